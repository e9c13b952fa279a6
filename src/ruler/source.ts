// Reads user-given data (essays, QA sets) from a URL (fetch, browser or Node) or a file path (Node only).
import { InvalidRequestError, NetworkError, RulerDataError } from '../errors';

/** Node's fs/promises module name, in a variable so bundlers leave the import to run time. */
export const kNodeFs: string = 'node:fs/promises';

/** True for http(s), data: and blob: URLs. */
export function isUrl(src: string): boolean {
  return /^(https?|data|blob):/i.test(src);
}

/** The text at a URL or file path. */
export async function readSource(src: string): Promise<string> {
  if (isUrl(src)) {
    let res: Response;
    try {
      res = await fetch(src);
    } catch (e) {
      throw new NetworkError(`GET ${src}: ${(e as Error).message}`, { cause: e });
    }
    if (!res.ok) throw new NetworkError(`GET ${src}: ${res.status} ${res.statusText}`);
    return res.text();
  }
  if (typeof process === 'undefined' || !process.versions?.node) throw new InvalidRequestError(`cannot read a file path in the browser: ${src}`);
  // a non-literal specifier keeps node:fs out of browser bundles (esbuild, Vite)
  const fs = (await import(/* @vite-ignore */ kNodeFs)) as typeof import('node:fs/promises');
  try {
    return await fs.readFile(src, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') throw new RulerDataError(`cannot read ${src} (${code})`, { cause: e });
    throw e;
  }
}
