// Where a model's files come from: a local folder (Node), picked files (browser), a Hugging Face Hub repo,
// a base URL, or memory. Every source reads whole text files and byte ranges, so weights stream one
// tensor at a time; HTTP sources download through the cache (download_cache.ts) when it is on, with
// connect and idle timeouts (http_fetch.ts).
import { InvalidRequestError, ModelNotFoundError, NetworkError, StarAttentionError } from '../errors';
import { isNode } from '../platform';
import { blobFile, keySegment, nodeFile, openDownloadCache, type CachedFile, type DownloadCache, type ExpectedFile } from './download_cache';
import { kDefaultTimeouts, timedFetch, type Timeouts } from './http_fetch';
import { relativeNameProblem } from './safetensors_header';

/** Download progress of one file (`total` 0 when the server does not say). */
export interface DownloadProgress {
  phase: 'download';
  file: string;
  loaded: number;
  total: number;
}

/** Read access to the files of one model. Names are paths relative to the model folder. */
export interface ModelSource {
  /** What the source is, for messages ("local folder /x", "Hub repo org/name@main", …). */
  readonly description: string;
  exists(name: string): Promise<boolean>;
  /** Size in bytes. */
  size(name: string): Promise<number>;
  readText(name: string): Promise<string>;
  /** Bytes [start, end). */
  readRange(name: string, start: number, end: number): Promise<Uint8Array>;
}

/** What `openSource` accepts. */
export type SourceLocation =
  | string
  | { baseUrl: string }
  | { files: ArrayLike<File> }
  | { randomConfig: Record<string, unknown> }
  | ModelSource;

export interface SourceOptions {
  /** Hub revision (branch, tag or commit); `org/name@rev` in the id wins. Default main. */
  revision?: string;
  /** Cache downloads (default: on for the Hub, off for base URLs, which usually serve local files). */
  cache?: boolean;
  /** Node cache folder (default $STAR_ATTN_CACHE, else ~/.cache/star-attention-webgpu). */
  cacheDir?: string;
  /** Node: the cache's size cap in bytes (default $STAR_ATTN_CACHE_MAX_BYTES, else 64 GiB); least recently used files go first. */
  cacheMaxBytes?: number;
  /** Hub access token for gated or private repos (Node default: $HF_TOKEN). */
  accessToken?: string;
  /** Hub address (default https://huggingface.co). */
  hubUrl?: string;
  fetch?: typeof fetch;
  onProgress?: (p: DownloadProgress) => void;
  /** Milliseconds to wait for a server's response headers (default 15 000). */
  connectTimeoutMs?: number;
  /** Milliseconds a response body may go without 1 KiB of progress (default 15 000): stalled or trickling servers fail. */
  idleTimeoutMs?: number;
}

const kHubUrl = 'https://huggingface.co';
const kRepoId = /^[A-Za-z0-9][\w.-]*\/[\w.-]+(@[\w./-]+)?$/;

/**
 * Opens a model location: a local folder path (Node), `org/name` or `org/name@rev` (Hub; `hf:org/name` to
 * skip the local-folder check), an http(s) URL or `{baseUrl}` (a server holding the files), `{files}` (a
 * picked folder, matched by base name), `{randomConfig}` (a config.json alone), or an existing ModelSource.
 * In Node, a location that is not a folder goes to the Hub only if it is an `org/name` id and nothing local
 * looks meant (no `./`, `/`, `~`, `..`, and no folder named like its first segment).
 */
export async function openSource(location: SourceLocation, opts: SourceOptions = {}): Promise<ModelSource> {
  if (typeof location === 'object' && location !== null) {
    if ('readRange' in location) return location;
    if ('baseUrl' in location) return openUrl(location.baseUrl, opts);
    if ('files' in location) return filesSource(Array.from(location.files));
    if ('randomConfig' in location) {
      return memorySource({ 'config.json': JSON.stringify(location.randomConfig) }, 'random-weight config');
    }
  }
  if (typeof location !== 'string' || location === '') throw new InvalidRequestError(`not a model location: ${JSON.stringify(location)}`);
  if (/^https?:\/\//i.test(location)) return openUrl(location, opts);
  if (location.startsWith('hf:')) {
    const id = location.slice(3);
    if (!kRepoId.test(id)) throw new InvalidRequestError(`"${id}" is not a Hub id (org/name[@revision])`);
    return openHub(id, opts);
  }
  if (isNode) {
    const fs = await import('node:fs/promises');
    const path = await import('node:path');
    const expanded = location.replace(/^~(?=$|[\\/])/, (await import('node:os')).homedir());
    // stat the path as given, so the OS resolves ".." after real folders only ("x/.." needs a folder x)
    const st = await fs.stat(expanded).catch(() => undefined);
    if (st?.isDirectory()) return localSource(await fs.realpath(expanded));
    const dir = path.resolve(expanded);
    if (st) throw new ModelNotFoundError(`${location} is a file; give the folder that holds config.json and the safetensors`);
    if (!kRepoId.test(location)) throw new ModelNotFoundError(`no folder ${dir} and "${location}" is not a Hub id (org/name[@revision])`);
    if (looksLocal(location)) throw new ModelNotFoundError(`no folder ${dir}`);
    const first = location.split('/')[0];
    if ((await fs.stat(first).catch(() => undefined))?.isDirectory()) {
      throw new ModelNotFoundError(`no folder ${dir} (though ${path.resolve(first)} exists: a typo?); for the Hub repo of that name, write hf:${location}`);
    }
    return openHub(location, opts, `there is no local folder ${dir} either`);
  } else if (!kRepoId.test(location)) {
    // in a page, anything else is a path on the page's own server
    return openUrl(new URL(location, globalThis.location?.href).href, opts);
  }
  return openHub(location, opts);
}

// a path written as one: absolute, home-relative, dot-relative, a drive, backslashes or dot segments
function looksLocal(location: string): boolean {
  return /^(\/|~|\.{1,2}([\\/]|$)|[A-Za-z]:)/.test(location) || location.includes('\\') || location.split(/[@]/)[0].split('/').some((s) => s === '.' || s === '..');
}

// ---- memory and picked files

/** A source over in-memory files (tests, random-weight configs). */
export function memorySource(files: Record<string, Uint8Array | string>, description = 'memory'): ModelSource {
  const enc = new TextEncoder();
  const bytes = new Map(Object.entries(files).map(([k, v]) => [k, typeof v === 'string' ? enc.encode(v) : v]));
  const get = (name: string) => {
    const b = bytes.get(name);
    if (!b) throw missing(name, description);
    return b;
  };
  return {
    description,
    exists: async (name) => bytes.has(name),
    size: async (name) => get(name).byteLength,
    readText: async (name) => new TextDecoder().decode(get(name)),
    readRange: async (name, start, end) => get(name).slice(start, end),
  };
}

function filesSource(files: File[]): ModelSource {
  const byName = new Map<string, File>();
  // a picked folder may hold sub-folders: the shallowest file of each base name wins
  const depth = (f: File) => (f.webkitRelativePath || f.name).split('/').length;
  for (const f of [...files].sort((a, b) => depth(a) - depth(b))) if (!byName.has(f.name)) byName.set(f.name, f);
  const description = `picked files (${byName.size})`;
  const get = (name: string): File => {
    const f = byName.get(name.split('/').pop()!);
    if (!f) throw missing(name, description);
    return f;
  };
  return {
    description,
    exists: async (name) => byName.has(name.split('/').pop()!),
    size: async (name) => get(name).size,
    readText: async (name) => get(name).text(),
    readRange: async (name, start, end) => blobFile(get(name)).readRange(start, end),
  };
}

// ---- local folder (Node)

function localSource(dir: string): ModelSource {
  const description = `local folder ${dir}`;
  // names are relative paths inside the folder, checked by segments (a string prefix would let /m hold
  // /m-evil/x); symlinks inside the folder are followed, as in the Hub cache's snapshot folders
  const pathOf = async (name: string) => {
    const path = await import('node:path');
    const why = relativeNameProblem(name);
    if (why) throw new ModelNotFoundError(`${JSON.stringify(name)} ${why}: not a file name inside ${description}`);
    const p = path.resolve(dir, name);
    const rel = path.relative(dir, p);
    if (rel === '' || rel.split(path.sep)[0] === '..' || path.isAbsolute(rel)) throw new ModelNotFoundError(`${name}: outside ${description}`);
    return p;
  };
  const stat = async (name: string) => {
    const fs = await import('node:fs/promises');
    const st = await fs.stat(await pathOf(name)).catch(() => undefined);
    return st?.isFile() ? st : undefined;
  };
  const file = async (name: string): Promise<CachedFile> => {
    const st = await stat(name);
    if (!st) throw missing(name, description);
    return nodeFile(await pathOf(name), st.size);
  };
  // a file that vanishes or cannot be read between the check and the read is still a typed error
  const reading = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      if (e instanceof StarAttentionError || e instanceof RangeError) throw e;
      throw new ModelNotFoundError(`cannot read ${name} in ${description}: ${(e as Error).message}`, { cause: e });
    }
  };
  return {
    description,
    exists: async (name) => (await stat(name)) !== undefined,
    size: async (name) => (await file(name)).size,
    readText: (name) =>
      reading(name, async () => {
        const fs = await import('node:fs/promises');
        if (!(await stat(name))) throw missing(name, description);
        return fs.readFile(await pathOf(name), 'utf8');
      }),
    readRange: (name, start, end) => reading(name, async () => (await file(name)).readRange(start, end)),
  };
}

// ---- HTTP: the Hub and base URLs

async function openHub(location: string, opts: SourceOptions, notFoundHint?: string): Promise<ModelSource> {
  const at = location.indexOf('@');
  const id = at < 0 ? location : location.slice(0, at);
  const rev = at < 0 ? (opts.revision ?? 'main') : location.slice(at + 1);
  // a "." or ".." would be resolved by the URL parser, moving the request elsewhere on the Hub
  if (id.split('/').some((p) => p === '.' || p === '..')) throw new InvalidRequestError(`"${id}" is not a Hub id (org/name)`);
  if (rev === '' || rev.length > 256 || rev === '.' || rev === '..') {
    throw new InvalidRequestError(`Hub revision ${JSON.stringify(rev)}: expected a branch, tag or commit`);
  }
  const hub = new URL(opts.hubUrl ?? kHubUrl);
  if (hub.protocol !== 'https:' && hub.protocol !== 'http:') throw new InvalidRequestError(`hubUrl ${hub.href} is not an http(s) address`);
  const base = hub.href.replace(/\/+$/, '');
  const token = opts.accessToken ?? (isNode ? process.env.HF_TOKEN : undefined);
  const fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const timeouts = timeoutsOf(opts);
  const cache = (opts.cache ?? true) ? await openDownloadCache(opts.cacheDir, { maxBytes: opts.cacheMaxBytes }) : undefined;
  const urlOf = (name: string) => `${base}/${id}/resolve/${encodeURIComponent(rev)}/${name.split('/').map(encodeURIComponent).join('/')}`;
  return new HttpSource({
    description: `Hub repo ${id}@${rev}`,
    urlOf,
    // the cache record keeps the whole URL, so another Hub address or revision under this key is a miss
    keyOf: (name) => [...id.split('/').map(keySegment), keySegment(rev), ...name.split('/').map(keySegment)].join('/'),
    headers: token ? { authorization: `Bearer ${token}` } : {},
    cache,
    fetch: fetchFn,
    onProgress: opts.onProgress,
    timeouts,
    notFoundHint,
    // Node can read the Hub's redirect (X-Linked-Etag: the SHA-256 of an LFS file); a page cannot
    expected: isNode && cache ? (name) => hubExpected(fetchFn, urlOf(name), token, timeouts) : undefined,
  });
}

async function openUrl(base: string, opts: SourceOptions): Promise<ModelSource> {
  const url = new URL(base.endsWith('/') ? base : `${base}/`);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InvalidRequestError(`${url.href} is not an http(s) address`);
  return new HttpSource({
    description: `URL ${url.href}`,
    urlOf: (name) => new URL(name.split('/').map(encodeURIComponent).join('/'), url).href,
    keyOf: (name) =>
      ['url', keySegment(`${url.protocol.slice(0, -1)}-${url.host}`), ...url.pathname.split('/').filter(Boolean).map(keySegment), ...name.split('/').map(keySegment)].join('/'),
    headers: {},
    cache: opts.cache ? await openDownloadCache(opts.cacheDir, { maxBytes: opts.cacheMaxBytes }) : undefined,
    fetch: opts.fetch ?? globalThis.fetch.bind(globalThis),
    onProgress: opts.onProgress,
    timeouts: timeoutsOf(opts),
  });
}

function timeoutsOf(opts: SourceOptions): Timeouts {
  const t = { connectMs: opts.connectTimeoutMs ?? kDefaultTimeouts.connectMs, idleMs: opts.idleTimeoutMs ?? kDefaultTimeouts.idleMs };
  for (const [k, v] of Object.entries(t)) if (!(v > 0)) throw new InvalidRequestError(`${k === 'connectMs' ? 'connectTimeoutMs' : 'idleTimeoutMs'} must be > 0, got ${v}`);
  return t;
}

// the Hub's answer to a HEAD without following its redirect: X-Linked-Etag / X-Linked-Size for LFS files
async function hubExpected(f: typeof fetch, url: string, token: string | undefined, t: Timeouts): Promise<ExpectedFile> {
  try {
    const resp = await timedFetch(f, url, { method: 'HEAD', redirect: 'manual', headers: token ? { authorization: `Bearer ${token}` } : {} }, t);
    await resp.body?.cancel();
    const etag = (resp.headers.get('x-linked-etag') ?? '').replace(/^W\//, '').replaceAll('"', '');
    const size = Number(resp.headers.get('x-linked-size') ?? NaN);
    return { sha256: /^[0-9a-f]{64}$/.test(etag) ? etag : undefined, size: Number.isSafeInteger(size) && size >= 0 ? size : undefined };
  } catch {
    // no metadata is no reason to fail: the download itself reports what is wrong
    return {};
  }
}

interface HttpSpec {
  description: string;
  urlOf(name: string): string;
  keyOf(name: string): string;
  headers: Record<string, string>;
  cache?: DownloadCache;
  fetch: typeof fetch;
  onProgress?: (p: DownloadProgress) => void;
  timeouts: Timeouts;
  /** Added to "not found" messages (e.g. that no local folder of that name exists). */
  notFoundHint?: string;
  /** What a download must match (size, SHA-256), where the server says. */
  expected?: (name: string) => Promise<ExpectedFile>;
}

class HttpSource implements ModelSource {
  readonly description: string;
  private readonly files = new Map<string, Promise<CachedFile>>();
  private readonly present = new Map<string, Promise<boolean>>();

  constructor(private readonly s: HttpSpec) {
    this.description = s.description + (s.cache ? `, cached in ${s.cache.where}` : '');
  }

  exists(name: string): Promise<boolean> {
    let p = this.present.get(name);
    if (!p) {
      p = (async () => {
        if (this.files.has(name) || (await this.s.cache?.open(this.s.keyOf(name), this.s.urlOf(name)))) return true;
        const resp = await this.request(name, { method: 'HEAD' }, true);
        await resp.body?.cancel();
        // static servers that fall back to index.html for unknown paths answer 200 with a page
        const html = (resp.headers.get('content-type') ?? '').startsWith('text/html') && !/\.html?$/i.test(name);
        return resp.ok && !html;
      })();
      this.present.set(name, p);
      p.catch(() => this.present.delete(name));
    }
    return p;
  }

  async size(name: string): Promise<number> {
    return (await this.file(name)).size;
  }

  async readText(name: string): Promise<string> {
    const f = await this.file(name);
    return new TextDecoder().decode(await f.readRange(0, f.size));
  }

  async readRange(name: string, start: number, end: number): Promise<Uint8Array> {
    return (await this.file(name)).readRange(start, end);
  }

  // one download (or size probe) per file, shared by concurrent readers
  private file(name: string): Promise<CachedFile> {
    let p = this.files.get(name);
    if (!p) {
      p = this.s.cache ? this.cached(name, this.s.cache) : this.remote(name);
      this.files.set(name, p);
      p.catch(() => this.files.delete(name));
    }
    return p;
  }

  private async cached(name: string, cache: DownloadCache): Promise<CachedFile> {
    const key = this.s.keyOf(name);
    const url = this.s.urlOf(name);
    const hit = await cache.open(key, url);
    if (hit) return hit;
    const expect = (await this.s.expected?.(name)) ?? {};
    const resp = await this.request(name, {});
    const total = Number(resp.headers.get('content-length') ?? 0);
    const report = (loaded: number) => this.s.onProgress?.({ phase: 'download', file: name, loaded, total });
    report(0);
    try {
      return await cache.put(key, url, resp, report, expect);
    } catch (e) {
      throw new NetworkError(`downloading ${name} from ${this.description} failed: ${(e as Error).message}`, { cause: e });
    }
  }

  // without a cache: learn the size from a one-byte range request, then fetch ranges as asked
  private async remote(name: string): Promise<CachedFile> {
    const url = this.s.urlOf(name);
    const probe = await this.request(name, { headers: { range: 'bytes=0-0' }, cache: 'no-store' }, false, true);
    // an empty file cannot satisfy bytes=0-0: 416 with "bytes */0"
    const size =
      probe.status === 206 || probe.status === 416
        ? Number(probe.headers.get('content-range')?.split('/').pop() ?? (probe.status === 416 ? 0 : NaN))
        : Number(probe.headers.get('content-length') ?? NaN);
    await probe.body?.cancel();
    if (!Number.isSafeInteger(size) || size < 0) throw new NetworkError(`${url}: the server gave no size for ${name}`);
    return {
      size,
      readRange: async (start, end) => {
        if (!(start >= 0 && end <= size)) throw new RangeError(`${url}: bytes [${start}, ${end}) are outside the file's ${size}`);
        if (end <= start) return new Uint8Array(0);
        // ranges bypass the browser's HTTP cache; an answer that does not cover the range asked for is
        // retried before it is an error
        let why = '';
        for (let attempt = 0; attempt < 3; attempt++) {
          const resp = await this.request(name, { headers: { range: `bytes=${start}-${end - 1}` }, cache: 'no-store' });
          const body = await readBody(resp, url);
          if (resp.status !== 206) {
            // a server that ignores Range sends the whole file
            if (body.length === size) return body.slice(start, end);
            why = `status ${resp.status} with ${body.length} of ${size} bytes`;
            continue;
          }
          const cr = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(resp.headers.get('content-range') ?? '');
          const [a, b] = cr ? [Number(cr[1]), Number(cr[2])] : [-1, -1];
          if (cr && cr[3] !== '*' && Number(cr[3]) !== size) {
            throw new NetworkError(`${url}: the file is now ${cr[3]} bytes, it was ${size} when loading began (changed on the server?)`);
          }
          // a server may answer a wider range (Vite's dev server reads bytes=0-0 as the whole file): cut it
          if (cr && a <= start && b >= end - 1 && body.length === b - a + 1) return a === start && b === end - 1 ? body : body.slice(start - a, end - a);
          why = `asked bytes ${start}-${end - 1}, got "${resp.headers.get('content-range')}" with ${body.length} bytes`;
        }
        throw new NetworkError(`${url}: the server did not return the byte range asked for (${why})`);
      },
    };
  }

  private async request(name: string, init: RequestInit, allow404 = false, allow416 = false): Promise<Response> {
    const url = this.s.urlOf(name);
    const resp = await timedFetch(this.s.fetch, url, { ...init, headers: { ...this.s.headers, ...(init.headers as Record<string, string>) } }, this.s.timeouts);
    if (resp.ok || (allow404 && resp.status === 404) || (allow416 && resp.status === 416)) return resp;
    await resp.body?.cancel().catch(() => {});
    if (resp.status === 404) throw missing(name, this.description, url, this.s.notFoundHint);
    if (resp.headers.get('x-error-code') === 'RepositoryNotFound') {
      throw new ModelNotFoundError(
        `${this.description}: no such repo on the Hub (or it is private: give an access token, HF_TOKEN)${this.s.notFoundHint ? `; ${this.s.notFoundHint}` : ''}`,
      );
    }
    if (resp.status === 401 || resp.status === 403) {
      throw new NetworkError(
        `${name}: HTTP ${resp.status} from ${url}: a gated or private repo? Accept its license on the Hub and give an access token (HF_TOKEN)`,
      );
    }
    throw new NetworkError(`${name}: HTTP ${resp.status} ${resp.statusText} from ${url} (${this.description})`);
  }
}

// a response body whole, checked against its Content-Length
async function readBody(resp: Response, url: string): Promise<Uint8Array> {
  const body = new Uint8Array(await resp.arrayBuffer());
  const len = resp.headers.get('content-length');
  if (len !== null && !resp.headers.get('content-encoding') && Number(len) !== body.length) {
    throw new NetworkError(`${url}: the answer broke off after ${body.length} of ${len} bytes`);
  }
  return body;
}

function missing(name: string, description: string, url?: string, hint?: string): Error {
  const what = name === 'config.json' ? ': not a model folder? A model needs config.json, tokenizer.json and *.safetensors' : '';
  return new ModelNotFoundError(`${name} not found in ${description}${url ? ` (${url})` : ''}${what}${hint ? `; ${hint}` : ''}`);
}
