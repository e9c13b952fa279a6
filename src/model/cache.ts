// Download cache for model files, like transformers.js: the Cache API in the browser, a folder in Node
// (default ~/.cache/star-attention-webgpu, or $STAR_ATTN_CACHE, or an explicit folder). Files are stored
// whole and served back by byte range; a download becomes visible only once complete (temp file + rename
// in Node; Cache.put resolves only after the whole body is stored in the browser).

/** True under Node (Node-only modules are imported dynamically behind this check). */
export const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** Name of the browser Cache API cache. */
export const kBrowserCacheName = 'star-attention-models';

/** A complete file in the cache. */
export interface CachedFile {
  size: number;
  /** Bytes [start, end). */
  readRange(start: number, end: number): Promise<Uint8Array>;
}

export interface DownloadCache {
  /** Where files go, for messages. */
  readonly where: string;
  /** The cached file under `key` (a relative path such as `org/name/main/config.json`), if complete. */
  open(key: string, url: string): Promise<CachedFile | undefined>;
  /** Stores a successful response's body under `key`, reporting bytes as they arrive; throws if it breaks off. */
  put(key: string, url: string, resp: Response, onBytes: (loaded: number) => void): Promise<CachedFile>;
}

/**
 * The cache for this platform: a folder in Node (`dir`, else $STAR_ATTN_CACHE, else
 * ~/.cache/star-attention-webgpu), the Cache API in a browser, or undefined where neither exists.
 */
export async function openDownloadCache(dir?: string): Promise<DownloadCache | undefined> {
  if (isNode) {
    const os = await import('node:os');
    const path = await import('node:path');
    const root = dir ?? process.env.STAR_ATTN_CACHE ?? path.join(os.homedir(), '.cache', 'star-attention-webgpu');
    return new NodeCache(path.resolve(root));
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

class NodeCache implements DownloadCache {
  constructor(readonly where: string) {}

  private async pathOf(key: string): Promise<string> {
    const path = await import('node:path');
    const parts = key.split('/');
    if (parts.some((p) => p === '' || p === '.' || p === '..')) throw new Error(`bad cache key "${key}"`);
    return path.join(this.where, ...parts);
  }

  async open(key: string): Promise<CachedFile | undefined> {
    const fs = await import('node:fs/promises');
    const p = await this.pathOf(key);
    try {
      const st = await fs.stat(p);
      return st.isFile() ? nodeFile(p, st.size) : undefined;
    } catch {
      return undefined;
    }
  }

  async put(key: string, url: string, resp: Response, onBytes: (loaded: number) => void): Promise<CachedFile> {
    const fs = await import('node:fs/promises');
    const path = await import('node:path');
    const p = await this.pathOf(key);
    await fs.mkdir(path.dirname(p), { recursive: true });
    const tmp = `${p}.${process.pid}.${Math.random().toString(36).slice(2)}.part`;
    const fh = await fs.open(tmp, 'w');
    let loaded = 0;
    try {
      const reader = resp.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        await fh.write(value);
        loaded += value.byteLength;
        onBytes(loaded);
      }
      await fh.close();
      checkLength(resp, loaded, url);
      await fs.rename(tmp, p);
    } catch (e) {
      await fh.close().catch(() => {});
      await fs.rm(tmp, { force: true });
      throw e;
    }
    return nodeFile(p, loaded);
  }
}

/** A file on disk (Node) as a CachedFile. */
export function nodeFile(p: string, size: number): CachedFile {
  return {
    size,
    async readRange(start, end) {
      const fs = await import('node:fs/promises');
      const fh = await fs.open(p, 'r');
      try {
        const out = new Uint8Array(end - start);
        let at = 0;
        while (at < out.length) {
          const { bytesRead } = await fh.read(out, at, out.length - at, start + at);
          if (bytesRead === 0) throw new Error(`${p}: file ends at ${start + at}, wanted bytes up to ${end}`);
          at += bytesRead;
        }
        return out;
      } finally {
        await fh.close();
      }
    },
  };
}

// ---- browser: the Cache API

class BrowserCache implements DownloadCache {
  readonly where = `the browser cache "${kBrowserCacheName}"`;
  constructor(private readonly cache: Cache) {}

  async open(_key: string, url: string): Promise<CachedFile | undefined> {
    const hit = await this.cache.match(url);
    return hit ? blobFile(await hit.blob()) : undefined;
  }

  async put(_key: string, url: string, resp: Response, onBytes: (loaded: number) => void): Promise<CachedFile> {
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
    } catch (e) {
      await this.cache.delete(url);
      throw e;
    }
    const file = await this.open(_key, url);
    if (!file) throw new Error(`${url}: the browser cache did not keep the file (storage quota?)`);
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

function checkLength(resp: Response, loaded: number, url: string): void {
  const len = resp.headers.get('content-length');
  // content-length counts encoded bytes, so only check it when the body was not compressed
  if (len !== null && !resp.headers.get('content-encoding') && Number(len) !== loaded) {
    throw new Error(`${url}: download broke off after ${loaded} of ${len} bytes; try again`);
  }
}
