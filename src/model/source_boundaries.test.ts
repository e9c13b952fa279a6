// Issue 16, boundaries: names cannot leave the model folder or the cache, a local-looking path that does not
// exist says so, HTTP loads have connect/idle time limits and check sizes and the Hub's SHA-256, and the
// download cache is keyed by origin and revision and has a size cap. A local HTTP server plays every part.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidRequestError, ModelNotFoundError, NetworkError } from '../errors';
import { openCheckpoint } from './safetensors';
import { openSource } from './source';

const fixture = 'public/fixtures/tiny-llama';
const bytes = (name: string) => readFileSync(join(fixture, name));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const fast = { connectTimeoutMs: 400, idleTimeoutMs: 400 };

let server: Server;
let base: string;
const sockets = new Set<Socket>();
const hits: string[] = [];

// /{mode}/tiny/resolve/{rev}/{file}: modes play a stalled, trickling, lying or hashing server
function handler(req: IncomingMessage, res: ServerResponse): void {
  const path = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
  hits.push(`${req.method} ${req.headers.host} ${path}`);
  const m = /^\/([^/]+)\/tiny\/resolve\/([^/]+)\/(.+)$/.exec(path);
  if (!m) {
    res.writeHead(401, { 'x-error-code': 'RepositoryNotFound' }).end();
    return;
  }
  const [, mode, rev, name] = m;
  if (mode === 'empty' && name === 'model.safetensors') {
    // an empty file: a range cannot be satisfied
    if (req.headers.range) res.writeHead(416, { 'content-range': 'bytes */0' }).end();
    else res.writeHead(200, { 'content-length': 0 }).end();
    return;
  }
  if (!existsSync(join(fixture, name))) {
    res.writeHead(404).end('Entry not found');
    return;
  }
  const data = bytes(name);
  if (mode === 'stall') return; // accept, never answer
  if (mode === 'stallbody') {
    res.writeHead(200, { 'content-length': data.byteLength });
    res.write(data.subarray(0, 10));
    return;
  }
  if (mode === 'trickle') {
    res.writeHead(200, { 'content-length': data.byteLength });
    let at = 0;
    const t = setInterval(() => {
      if (res.destroyed || at >= data.byteLength) return clearInterval(t);
      res.write(data.subarray(at, at + 1));
      at++;
    }, 20);
    return;
  }
  if (req.method === 'HEAD') {
    // the Hub's metadata: X-Linked-Etag is the file's SHA-256 (wrong on the 'badhash' revision)
    const headers: Record<string, string | number> = { 'content-length': data.byteLength };
    if (rev === 'hashed' || rev === 'badhash') {
      headers['x-linked-etag'] = `"${rev === 'badhash' ? sha256(new Uint8Array([1])) : sha256(data)}"`;
      headers['x-linked-size'] = data.byteLength;
    }
    res.writeHead(200, headers).end();
    return;
  }
  const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
  if (range) {
    const [s, e] = [Number(range[1]), Math.min(Number(range[2]), data.byteLength - 1)];
    // 'grown' claims a different total after the first request, as if the file changed on the server
    const total = mode === 'grown' && hits.filter((h) => h.includes('/grown/')).length > 1 ? data.byteLength + 1 : data.byteLength;
    res.writeHead(206, { 'content-range': `bytes ${s}-${e}/${total}`, 'content-length': e - s + 1 });
    res.end(data.subarray(s, e + 1));
    return;
  }
  res.writeHead(200, { 'content-length': data.byteLength });
  res.end(data);
}

beforeAll(async () => {
  server = createServer(handler);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
});

const tmp = () => mkdtempSync(join(tmpdir(), 'star-attn-b-'));
const caught = async (p: Promise<unknown>): Promise<Error> => {
  const e = await p.then(() => undefined, (x: unknown) => x);
  if (!(e instanceof Error)) throw new Error('expected a rejection');
  return e;
};

describe('local folders', () => {
  it('contains names by path segments: /m does not hold /m-evil/..., and ".." never resolves', async () => {
    const root = tmp();
    try {
      mkdirSync(join(root, 'm'));
      mkdirSync(join(root, 'm-evil'));
      writeFileSync(join(root, 'm', 'config.json'), '{}');
      writeFileSync(join(root, 'm-evil', 'secret.safetensors'), 'x');
      const src = await openSource(join(root, 'm'));
      for (const name of ['../m-evil/secret.safetensors', '/etc/passwd', 'a/../../m-evil/secret.safetensors', '']) {
        const e = await caught(src.readText(name));
        expect(e, name).toBeInstanceOf(ModelNotFoundError);
      }
      expect(await src.exists('../m-evil/secret.safetensors').catch(() => 'refused')).toBe('refused');
      // an index naming a shard outside the folder is refused before anything is read
      writeFileSync(join(root, 'm', 'model.safetensors.index.json'), JSON.stringify({ weight_map: { w: '../m-evil/secret.safetensors' } }));
      await expect(openCheckpoint(src)).rejects.toThrow(/maps to shard "..\/m-evil\/secret.safetensors", which has an empty, "." or ".." path segment/);
      // a symlink inside the folder is followed, as in the Hub cache's snapshot folders
      symlinkSync(join(root, 'm-evil', 'secret.safetensors'), join(root, 'm', 'linked.safetensors'));
      expect(await src.readText('linked.safetensors')).toBe('x');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('says a local-looking path is missing instead of asking the Hub', async () => {
    const root = tmp();
    const cwd = process.cwd();
    try {
      mkdirSync(join(root, 'models'));
      process.chdir(root);
      // "x/.." used to load the current folder
      expect((await caught(openSource('x/..'))).message).toMatch(/^no folder /);
      expect(await caught(openSource('x/..'))).toBeInstanceOf(ModelNotFoundError);
      for (const p of ['./org/name', '../org/name', '/no/such/org/name', '~/no-such-folder-here/x', 'a\\b/c']) {
        const e = await caught(openSource(p, { hubUrl: 'http://127.0.0.1:1' }));
        expect(e, p).toBeInstanceOf(ModelNotFoundError);
        expect(e.message, p).toMatch(/^no folder /);
      }
      // "models/llama" where ./models exists: a typo, not a Hub id
      const typo = await caught(openSource('models/llama', { hubUrl: 'http://127.0.0.1:1' }));
      expect(typo.message).toMatch(/^no folder .*models\/llama \(though .*models exists: a typo\?\); for the Hub repo of that name, write hf:models\/llama$/);
    } finally {
      process.chdir(cwd);
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses Hub ids and revisions that the URL parser would move ("..", ".")', async () => {
    for (const loc of ['hf:org/..', 'hf:./name', 'hf:org/name@..', 'hf:org/name@.']) {
      expect(await caught(openSource(loc, { hubUrl: base, cache: false })), loc).toBeInstanceOf(InvalidRequestError);
    }
    expect(await caught(openSource('org/name', { hubUrl: base, cache: false, revision: '..' }))).toBeInstanceOf(InvalidRequestError);
  });

  it('says, when the Hub has no such repo, that no local folder exists either', async () => {
    const e = await caught(openSource('nosuch/repo', { hubUrl: base, cache: false }).then((s) => s.readText('config.json')));
    expect(e).toBeInstanceOf(ModelNotFoundError);
    expect(e.message).toMatch(/Hub repo nosuch\/repo@main: no such repo on the Hub .*; there is no local folder .*nosuch\/repo either/);
    const missing = await caught(openSource('plain/tiny', { hubUrl: base, cache: false }).then((s) => s.readText('nope.json')));
    expect(missing.message).toMatch(/nope.json not found in Hub repo plain\/tiny@main .*; there is no local folder .*plain\/tiny either/);
  });
});

describe('HTTP time limits', () => {
  it('fails after connectTimeoutMs when a server accepts and never answers (was 302 s)', async () => {
    for (const cache of [false, true]) {
      const dir = tmp();
      try {
        const src = await openSource('stall/tiny', { hubUrl: base, cache, cacheDir: dir, ...fast });
        const e = await caught(src.readText('config.json'));
        expect(e).toBeInstanceOf(NetworkError);
        expect(e.message).toMatch(/stall\/tiny\/resolve\/main\/config.json: no answer within 0.4 s .*connectTimeoutMs/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('fails when a body stalls or trickles (a 1 byte/s server never finished)', async () => {
    for (const mode of ['stallbody', 'trickle']) {
      const dir = tmp();
      try {
        const src = await openSource(`${mode}/tiny`, { hubUrl: base, cacheDir: dir, ...fast });
        const e = await caught(src.readText('model.safetensors'));
        expect(e, mode).toBeInstanceOf(NetworkError);
        expect(e.message, mode).toMatch(/stalled after \d+ bytes \(less than 1024 bytes in 0.4 s\); the limit is the idleTimeoutMs option/);
        // nothing half-written stays
        expect(readdirSync(join(dir, mode, 'tiny', 'main'))).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});

describe('HTTP sizes and hashes', () => {
  it('refuses a range whose Content-Range total changed since the size probe', async () => {
    hits.length = 0;
    const src = await openSource({ baseUrl: `${base}/grown/tiny/resolve/main/` }, fast);
    await expect(src.readRange('model.safetensors', 0, 8)).rejects.toThrow(/the file is now \d+ bytes, it was \d+ when loading began/);
  });

  it('says an empty weights file is too short, from a URL too (was: Api error with status 416)', async () => {
    for (const cache of [false, true]) {
      const dir = tmp();
      try {
        const src = await openSource(`${base}/empty/tiny/resolve/main`, { cache, cacheDir: dir, ...fast });
        const e = await caught(openCheckpoint(src));
        expect(e.message).toMatch(/model.safetensors: the file is 0 bytes, too short for safetensors/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it("verifies the Hub's SHA-256 (X-Linked-Etag) while downloading, and keeps nothing on a mismatch", async () => {
    const dir = tmp();
    try {
      const good = await openSource('plain/tiny@hashed', { hubUrl: base, cacheDir: dir });
      expect((await openCheckpoint(good)).size).toBeGreaterThan(10);
      const meta = JSON.parse(readFileSync(join(dir, '.meta', 'plain', 'tiny', 'hashed', 'model.safetensors.json'), 'utf8'));
      expect(meta.sha256).toBe(sha256(bytes('model.safetensors')));
      const bad = await openSource('plain/tiny@badhash', { hubUrl: base, cacheDir: dir });
      const e = await caught(bad.readText('model.safetensors'));
      expect(e).toBeInstanceOf(NetworkError);
      expect(e.message).toMatch(/the download's SHA-256 is [0-9a-f]{64}, but the Hub lists [0-9a-f]{64}/);
      expect(readdirSync(join(dir, 'plain', 'tiny', 'badhash'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('download cache', () => {
  it('is keyed by origin and revision: another Hub address under the same key downloads again', async () => {
    const dir = tmp();
    try {
      hits.length = 0;
      await (await openSource('plain/tiny', { hubUrl: base, cacheDir: dir })).readText('config.json');
      await (await openSource('plain/tiny', { hubUrl: base, cacheDir: dir })).readText('config.json');
      expect(hits.filter((h) => h.startsWith('GET'))).toHaveLength(1);
      const other = base.replace('127.0.0.1', 'localhost');
      await (await openSource('plain/tiny', { hubUrl: other, cacheDir: dir })).readText('config.json');
      expect(hits.filter((h) => h.startsWith('GET'))).toHaveLength(2);
      expect(hits.at(-1)).toMatch(/^GET localhost:/);
      await (await openSource('plain/tiny@v2', { hubUrl: base, cacheDir: dir })).readText('config.json');
      expect(hits.filter((h) => h.startsWith('GET'))).toHaveLength(3);
      // a file from before this change (no record of its URL) is downloaded again, not trusted
      const key = join(dir, 'plain', 'tiny', 'main', 'tokenizer_config.json');
      writeFileSync(key, '{"bos_token": "forged"}');
      const text = await (await openSource('plain/tiny', { hubUrl: base, cacheDir: dir })).readText('tokenizer_config.json');
      expect(text).toBe(bytes('tokenizer_config.json').toString('utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has a size cap: least recently used files go, a file larger than the cap is refused', async () => {
    const dir = tmp();
    const files = (d: string) => readdirSync(d, { recursive: true, withFileTypes: true }).filter((f) => f.isFile()).map((f) => relative(dir, join(f.parentPath, f.name))).filter((f) => !f.startsWith('.meta')).sort();
    try {
      const cap = bytes('model.safetensors').byteLength + bytes('tokenizer.json').byteLength + 10;
      const src = await openSource('plain/tiny', { hubUrl: base, cacheDir: dir, cacheMaxBytes: cap });
      await src.readText('config.json');
      await src.readText('tokenizer.json');
      expect(files(dir)).toEqual(['plain/tiny/main/config.json', 'plain/tiny/main/tokenizer.json']);
      await src.readText('model.safetensors');
      // config.json, used least recently, made room
      expect(files(dir)).toEqual(['plain/tiny/main/model.safetensors', 'plain/tiny/main/tokenizer.json']);
      const small = await openSource('plain/tiny', { hubUrl: base, cacheDir: join(dir, 'small'), cacheMaxBytes: 1000 });
      const e = await caught(small.readText('model.safetensors'));
      expect(e).toBeInstanceOf(NetworkError);
      expect(e.message).toMatch(/the file is \d+ bytes, more than the download cache's cap of 1000/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
