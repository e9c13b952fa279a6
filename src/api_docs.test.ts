// The API reference (`npm run docs`: TypeDoc over src/index.ts into docs/api/, not committed) builds without
// warnings, and documents the entry points users start from.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

describe('API reference', () => {
  const out = mkdtempSync(join(tmpdir(), 'api-docs-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('TypeDoc builds it without warnings; Engine, the chat API and the errors have pages', () => {
    // measured: 10-25 s on the 2-core machine
    const r = spawnSync(process.execPath, [resolve('node_modules/typedoc/bin/typedoc'), '--out', out, '--treatWarningsAsErrors'], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).not.toMatch(/\[warning\]|\[error\]/);
    expect(r.status).toBe(0);
    const page = (p: string) => readFileSync(join(out, p), 'utf8');
    const engine = page('classes/Engine.html');
    for (const member of ['load', 'generate', 'plan', 'chat', 'dispose']) expect(engine).toContain(`id="${member.toLowerCase()}"`);
    expect(page('interfaces/ChatCompletionCreateParams.html')).toContain('max_tokens');
    expect(page('interfaces/EngineOptions.html')).toContain('kvDtype');
    expect(page('classes/ContextTooLongError.html')).toContain('ContextTooLongError');
  }, 180_000);
});
