// Download cache for model files, like transformers.js: the Cache API in the browser, a folder in Node
// (default ~/.cache/star-attention-webgpu, or $STAR_ATTN_CACHE, or an explicit folder). Files are stored
// whole and served back by byte range; a download becomes visible only once complete (temp file + rename
// in Node; Cache.put resolves only after the whole body is stored in the browser).
//
// In Node each file has a record under `.meta/` holding the URL it came from (origin, repo and revision)
// and its size: an entry downloaded from another origin, revision or scheme is a miss, never served. The
// folder has a size cap (least recently used files go first), and a download whose expected SHA-256 is
// known (the Hub's X-Linked-Etag) is hashed as it streams and refused on a mismatch.
import { InvalidRequestError, ModelFormatError, NetworkError } from '../errors';
import { isNode } from '../platform';

/** Name of the browser Cache API cache. */
export const kBrowserCacheName = 'star-attention-models';

/** Default size cap of the download cache (bytes): $STAR_ATTN_CACHE_MAX_BYTES, else this. */
export const kDefaultCacheMaxBytes = 64 * 2 ** 30;

/** A complete file in the cache. */
export interface CachedFile {
  size: number;
  /** Bytes [start, end). */
  readRange(start: number, end: number): Promise<Uint8Array>;
}

/** What a download is checked against, where the server said. */
export interface ExpectedFile {
  /** Hex SHA-256 of the whole file (the Hub's X-Linked-Etag for LFS files). */
  sha256?: string;
  /** Size in bytes. */
  size?: number;
}

export interface DownloadCache {
  /** Where files go, for messages. */
  readonly where: string;
  /** The cached file under `key` (a relative path such as `org/name/main/config.json`) if it came from `url` and is complete. */
  open(key: string, url: string): Promise<CachedFile | undefined>;
  /**
   * Stores a successful response's body under `key`, reporting bytes as they arrive; throws if it breaks
   * off, disagrees with Content-Length or `expect`, or cannot fit the cache.
   */
  put(key: string, url: string, resp: Response, onBytes: (loaded: number) => void, expect?: ExpectedFile): Promise<CachedFile>;
}

export interface CacheOptions {
  /** Size cap in bytes (Node; default $STAR_ATTN_CACHE_MAX_BYTES, else 64 GiB). */
  maxBytes?: number;
}

/**
 * The cache for this platform: a folder in Node (`dir`, else $STAR_ATTN_CACHE, else
 * ~/.cache/star-attention-webgpu), the Cache API in a browser, or undefined where neither exists.
 */
export async function openDownloadCache(dir?: string, opts: CacheOptions = {}): Promise<DownloadCache | undefined> {
  if (isNode) {
    const os = await import('node:os');
    const path = await import('node:path');
    const root = dir ?? process.env.STAR_ATTN_CACHE ?? path.join(os.homedir(), '.cache', 'star-attention-webgpu');
    const env = process.env.STAR_ATTN_CACHE_MAX_BYTES;
    const maxBytes = opts.maxBytes ?? (env ? Number(env) : kDefaultCacheMaxBytes);
    if (!(maxBytes > 0)) throw new InvalidRequestError(`the download cache's size cap must be a positive number of bytes, got ${opts.maxBytes ?? env}`);
    return new NodeCache(path.resolve(root), maxBytes);
  }
  if (typeof caches === 'undefined') return undefined;
  return new BrowserCache(await caches.open(kBrowserCacheName));
}

/** Makes a cache key segment safe as a folder name (no separators, no dot segments). */
export function keySegment(s: string): string {
  const t = s.replace(/[^A-Za-z0-9._-]+/g, '--');
  return t === '.' || t === '..' || t === '' ? `_${t}` : t;
}

// ---- Node: a folder

interface MetaRecord {
  url: string;
  size: number;
  sha256?: string;
}

const kMetaDir = '.meta';

class NodeCache implements DownloadCache {
  constructor(
    readonly where: string,
    private readonly maxBytes: number,
  ) {}

  // the file and its record, both inside the cache folder (checked by path segments)
  private async pathsOf(key: string): Promise<{ file: string; meta: string }> {
    const path = await import('node:path');
    const parts = key.split('/');
    if (parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\\')) || parts[0] === kMetaDir) {
      throw new RangeError(`bad cache key "${key}"`);
    }
    const file = path.join(this.where, ...parts);
    const rel = path.relative(this.where, file);
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw new RangeError(`cache key "${key}" leaves ${this.where}`);
    return { file, meta: path.join(this.where, kMetaDir, `${rel}.json`) };
  }

  async open(key: string, url: string): Promise<CachedFile | undefined> {
    const fs = await import('node:fs/promises');
    const p = await this.pathsOf(key);
    try {
      const meta = JSON.parse(await fs.readFile(p.meta, 'utf8')) as MetaRecord;
      const st = await fs.stat(p.file);
      // another origin, revision or scheme under the same key, or a file changed since: a miss
      if (!st.isFile() || meta.url !== url || meta.size !== st.size) return undefined;
      // the record's time is the file's last use, for eviction
      const now = new Date();
      await fs.utimes(p.meta, now, now).catch(() => {});
      return nodeFile(p.file, st.size);
    } catch {
      return undefined;
    }
  }

  async put(key: string, url: string, resp: Response, onBytes: (loaded: number) => void, expect: ExpectedFile = {}): Promise<CachedFile> {
    const fs = await import('node:fs/promises');
    const path = await import('node:path');
    const p = await this.pathsOf(key);
    const declared = declaredLength(resp) ?? expect.size;
    if (declared !== undefined && declared > this.maxBytes) {
      await resp.body?.cancel();
      throw new NetworkError(
        `${url}: the file is ${declared} bytes, more than the download cache's cap of ${this.maxBytes} ` +
          `(raise it with STAR_ATTN_CACHE_MAX_BYTES, or load without the cache)`,
      );
    }
    const hash = expect.sha256 ? (await import('node:crypto')).createHash('sha256') : undefined;
    await fs.mkdir(path.dirname(p.file), { recursive: true });
    const tmp = `${p.file}.${process.pid}.${Math.random().toString(36).slice(2)}.part`;
    const fh = await fs.open(tmp, 'w');
    let loaded = 0;
    try {
      const reader = resp.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        loaded += value.byteLength;
        if (loaded > this.maxBytes || (declared !== undefined && loaded > declared)) {
          await reader.cancel();
          throw new NetworkError(`${url}: the server sent more than the ${Math.min(this.maxBytes, declared ?? Infinity)} bytes it announced or the cache holds`);
        }
        await fh.write(value);
        hash?.update(value);
        onBytes(loaded);
      }
      await fh.close();
      checkLength(resp, loaded, url);
      if (expect.size !== undefined && loaded !== expect.size) {
        throw new NetworkError(`${url}: downloaded ${loaded} bytes, but the server announced a file of ${expect.size}`);
      }
      const got = hash?.digest('hex');
      if (got !== undefined && got !== expect.sha256) {
        throw new NetworkError(`${url}: the download's SHA-256 is ${got}, but the Hub lists ${expect.sha256}: corrupted in transit or changed on the server; try again`);
      }
      await fs.rename(tmp, p.file);
    } catch (e) {
      await fh.close().catch(() => {});
      await fs.rm(tmp, { force: true });
      throw e;
    }
    const meta: MetaRecord = { url, size: loaded, sha256: expect.sha256 };
    await fs.mkdir(path.dirname(p.meta), { recursive: true });
    const metaTmp = `${p.meta}.${process.pid}.part`;
    await fs.writeFile(metaTmp, JSON.stringify(meta));
    await fs.rename(metaTmp, p.meta);
    await this.evict(p.file);
    return nodeFile(p.file, loaded);
  }

  // removes the least recently used files until the folder fits its cap (never `keep`, just written)
  private async evict(keep: string): Promise<void> {
    const fs = await import('node:fs/promises');
    const path = await import('node:path');
    const files: { file: string; meta: string; size: number; used: number }[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const d of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
        const full = path.join(dir, d.name);
        if (d.isDirectory()) {
          if (!(dir === this.where && d.name === kMetaDir)) await walk(full);
        } else if (d.isFile() && !d.name.endsWith('.part')) {
          const meta = path.join(this.where, kMetaDir, `${path.relative(this.where, full)}.json`);
          const st = await fs.stat(full).catch(() => undefined);
          const used = (await fs.stat(meta).catch(() => st))?.mtimeMs ?? 0;
          if (st) files.push({ file: full, meta, size: st.size, used });
        }
      }
    };
    await walk(this.where);
    let total = files.reduce((a, f) => a + f.size, 0);
    if (total <= this.maxBytes) return;
    files.sort((a, b) => a.used - b.used);
    for (const f of files) {
      if (total <= this.maxBytes) break;
      if (f.file === keep) continue;
      await fs.rm(f.meta, { force: true });
      await fs.rm(f.file, { force: true });
      total -= f.size;
    }
  }
}

/** A file on disk (Node) as a CachedFile. */
export function nodeFile(p: string, size: number): CachedFile {
  return {
    size,
    async readRange(start, end) {
      if (!(start >= 0 && end >= start && end <= size)) throw new RangeError(`${p}: bytes [${start}, ${end}) are outside the file's ${size}`);
      const fs = await import('node:fs/promises');
      const fh = await fs.open(p, 'r');
      try {
        const out = new Uint8Array(end - start);
        let at = 0;
        while (at < out.length) {
          const { bytesRead } = await fh.read(out, at, out.length - at, start + at);
          if (bytesRead === 0) throw new ModelFormatError(`${p}: file ends at ${start + at}, wanted bytes up to ${end} (changed while loading?)`);
          at += bytesRead;
        }
        return out;
      } finally {
        await fh.close();
      }
    },
  };
}

// ---- browser: the Cache API (keyed by the full URL: origin, repo, revision; the browser's quota bounds it)

class BrowserCache implements DownloadCache {
  readonly where = `the browser cache "${kBrowserCacheName}"`;
  constructor(private readonly cache: Cache) {}

  async open(_key: string, url: string): Promise<CachedFile | undefined> {
    const hit = await this.cache.match(url);
    return hit ? blobFile(await hit.blob()) : undefined;
  }

  async put(_key: string, url: string, resp: Response, onBytes: (loaded: number) => void, expect: ExpectedFile = {}): Promise<CachedFile> {
    // one branch goes to the cache, the other only counts bytes for progress
    const [toCache, toCount] = resp.body!.tee();
    const headers = new Headers();
    const len = resp.headers.get('content-length');
    if (len) headers.set('content-length', len);
    const stored = this.cache.put(url, new Response(toCache, { headers }));
    const reader = toCount.getReader();
    let loaded = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      loaded += value.byteLength;
      onBytes(loaded);
    }
    await stored;
    try {
      checkLength(resp, loaded, url);
      if (expect.size !== undefined && loaded !== expect.size) {
        throw new NetworkError(`${url}: downloaded ${loaded} bytes, but the server announced a file of ${expect.size}`);
      }
    } catch (e) {
      await this.cache.delete(url);
      throw e;
    }
    const file = await this.open(_key, url);
    if (!file) throw new NetworkError(`${url}: the browser cache did not keep the file (storage quota?)`);
    return file;
  }
}

/** A Blob (a picked File, a cached response) as a CachedFile. */
export function blobFile(blob: Blob): CachedFile {
  return {
    size: blob.size,
    async readRange(start, end) {
      return new Uint8Array(await blob.slice(start, end).arrayBuffer());
    },
  };
}

/** Content-Length of an uncompressed body, if the server sent one. */
function declaredLength(resp: Response): number | undefined {
  const len = resp.headers.get('content-length');
  if (len === null || resp.headers.get('content-encoding')) return undefined;
  const n = Number(len);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function checkLength(resp: Response, loaded: number, url: string): void {
  const len = declaredLength(resp);
  // content-length counts encoded bytes, so only check it when the body was not compressed
  if (len !== undefined && len !== loaded) {
    throw new NetworkError(`${url}: download broke off after ${loaded} of ${len} bytes; try again`);
  }
}
