// Node-only: RULER results as a JSON-lines file, one record appended per result, read back on resume.
import type { ResultStore, RunRecord } from './runner';
import { kNodeFs } from './source';

/**
 * A ResultStore over a JSON-lines file (created on first append). A torn last line from an interrupted
 * run is ignored, and the next append starts on a fresh line.
 */
export function jsonlStore(path: string): ResultStore {
  const fs = () => import(/* @vite-ignore */ kNodeFs) as Promise<typeof import('node:fs/promises')>;
  let needsNewline = false;
  return {
    async load() {
      let text: string;
      try {
        text = await (await fs()).readFile(path, 'utf8');
      } catch (e) {
        if ((e as { code?: string }).code === 'ENOENT') return [];
        throw e;
      }
      needsNewline = text.length > 0 && !text.endsWith('\n');
      const out: RunRecord[] = [];
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        try {
          out.push(JSON.parse(line) as RunRecord);
        } catch {
          // a line cut short by a crash: that result is redone
        }
      }
      return out;
    },
    async append(r) {
      await (await fs()).appendFile(path, (needsNewline ? '\n' : '') + JSON.stringify(r) + '\n');
      needsNewline = false;
    },
  };
}
