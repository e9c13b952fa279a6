import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint, readTensor } from './safetensors';
import { openSource, type DownloadProgress } from './source';

const fixture = 'public/fixtures/tiny-llama';
const fileBytes = (name: string) => new Uint8Array(readFileSync(join(fixture, name)));

// ---- a local stand-in for the Hub: /{org}/{name}/resolve/{rev}/{file}, with Range, HEAD and request counts

interface Hit {
  method: string;
  path: string;
  range?: string;
}

let server: Server;
let base: string;
const hits: Hit[] = [];

function handler(req: IncomingMessage, res: ServerResponse): void {
  const path = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
  hits.push({ method: req.method!, path, range: req.headers.range });
  const m = /^\/test\/tiny\/resolve\/([^/]+)\/(.+)$/.exec(path);
  if (path.startsWith('/gated/')) {
    res.writeHead(401).end();
    return;
  }
  if (!m || !existsSync(join(fixture, m[2]))) {
    res.writeHead(404).end('Entry not found');
    return;
  }
  const data = readFileSync(join(fixture, m[2]));
  if (m[1] === 'broken') {
    // promise the whole file, send half, then drop the connection
    res.writeHead(200, { 'content-length': data.byteLength });
    res.write(data.subarray(0, data.byteLength >> 1), () => res.destroy());
    return;
  }
  const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
  if (range) {
    // the 'sloppy' revision answers like Vite's dev server, which reads an end of 0 as "to the end"
    const end = m[1] === 'sloppy' && range[2] === '0' ? data.byteLength - 1 : Number(range[2]);
    const [s, e] = [Number(range[1]), Math.min(end, data.byteLength - 1)];
    res.writeHead(206, { 'content-range': `bytes ${s}-${e}/${data.byteLength}`, 'content-length': e - s + 1 });
    res.end(req.method === 'HEAD' ? undefined : data.subarray(s, e + 1));
    return;
  }
  res.writeHead(200, { 'content-length': data.byteLength });
  res.end(req.method === 'HEAD' ? undefined : data);
}

beforeAll(async () => {
  server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

const tmp = () => mkdtempSync(join(tmpdir(), 'star-attn-cache-'));

describe('local folder', () => {
  it('reads text, sizes and byte ranges', async () => {
    const src = await openSource(fixture);
    expect(src.description).toMatch(/^local folder .*tiny-llama$/);
    expect(JSON.parse(await src.readText('config.json')).architectures).toEqual(['LlamaForCausalLM']);
    const st = fileBytes('model.safetensors');
    expect(await src.size('model.safetensors')).toBe(st.byteLength);
    expect(await src.readRange('model.safetensors', 1000, 1100)).toEqual(st.subarray(1000, 1100));
    expect(await src.exists('tokenizer.json')).toBe(true);
    expect(await src.exists('nope.bin')).toBe(false);
  });

  it('says what is missing and where', async () => {
    const src = await openSource('public/fixtures');
    await expect(src.readText('config.json')).rejects.toThrow(/config.json not found in local folder .*fixtures: not a model folder\?/);
    await expect(src.readRange('x.safetensors', 0, 1)).rejects.toThrow(/x.safetensors not found in local folder/);
    await expect(openSource('./no/such/folder')).rejects.toThrow(/no folder .*no\/such\/folder/);
    await expect(openSource(`${fixture}/config.json`)).rejects.toThrow(/is a file; give the folder/);
  });
});

describe('picked files and memory', () => {
  it('matches picked files by base name', async () => {
    const files = ['config.json', 'model.safetensors'].map((n) => new File([fileBytes(n)], n));
    const src = await openSource({ files });
    expect(JSON.parse(await src.readText('config.json')).hidden_size).toBe(64);
    const entries = await openCheckpoint(src);
    const e = entries.get('model.norm.weight')!;
    expect(await readTensor(src, e)).toEqual(fileBytes('model.safetensors').subarray(e.start, e.end));
    await expect(src.readText('tokenizer.json')).rejects.toThrow(/tokenizer.json not found in picked files \(2\)/);
  });

  it('serves a random-weight config as config.json', async () => {
    const src = await openSource({ randomConfig: { hidden_size: 8 } });
    expect(JSON.parse(await src.readText('config.json'))).toEqual({ hidden_size: 8 });
  });
});

describe('HTTP sources', () => {
  it('downloads a Hub repo once into the cache, then serves it without network', async () => {
    const dir = tmp();
    try {
      const events: DownloadProgress[] = [];
      hits.length = 0;
      const src = await openSource('test/tiny@main', { hubUrl: base, cacheDir: dir, onProgress: (p) => events.push(p) });
      expect(src.description).toContain('Hub repo test/tiny@main');
      const entries = await openCheckpoint(src);
      const e = entries.get('model.layers.1.mlp.down_proj.weight')!;
      expect(await readTensor(src, e)).toEqual(fileBytes('model.safetensors').subarray(e.start, e.end));
      expect(JSON.parse(await src.readText('config.json')).vocab_size).toBe(773);
      const firstRun = hits.filter((h) => h.method === 'GET').map((h) => h.path);
      // each file fetched exactly once, whole
      expect(firstRun.sort()).toEqual(['/test/tiny/resolve/main/config.json', '/test/tiny/resolve/main/model.safetensors']);
      expect(hits.every((h) => h.range === undefined)).toBe(true);
      const st = events.filter((p) => p.file === 'model.safetensors');
      expect(st.at(-1)).toEqual({ phase: 'download', file: 'model.safetensors', loaded: statSync(join(fixture, 'model.safetensors')).size, total: statSync(join(fixture, 'model.safetensors')).size });
      expect(existsSync(join(dir, 'test', 'tiny', 'main', 'model.safetensors'))).toBe(true);

      // a second load (new source, same cache) makes no request at all
      hits.length = 0;
      const again = await openSource('test/tiny', { hubUrl: base, cacheDir: dir });
      const entries2 = await openCheckpoint(again);
      expect(await readTensor(again, entries2.get(e.name)!)).toEqual(fileBytes('model.safetensors').subarray(e.start, e.end));
      expect(await again.readText('config.json')).toBe(readFileSync(join(fixture, 'config.json'), 'utf8'));
      expect(hits).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses $STAR_ATTN_CACHE when no folder is given', async () => {
    const dir = tmp();
    const old = process.env.STAR_ATTN_CACHE;
    process.env.STAR_ATTN_CACHE = dir;
    try {
      const src = await openSource('test/tiny', { hubUrl: base, revision: 'v1.0' });
      await src.readText('config.json');
      expect(existsSync(join(dir, 'test', 'tiny', 'v1.0', 'config.json'))).toBe(true);
    } finally {
      if (old === undefined) delete process.env.STAR_ATTN_CACHE;
      else process.env.STAR_ATTN_CACHE = old;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never leaves a broken download in the cache', async () => {
    const dir = tmp();
    try {
      const src = await openSource('test/tiny@broken', { hubUrl: base, cacheDir: dir });
      await expect(src.readText('model.safetensors')).rejects.toThrow(/downloading model.safetensors from Hub repo test\/tiny@broken/);
      const folder = join(dir, 'test', 'tiny', 'broken');
      expect(existsSync(folder) ? readdirSync(folder) : []).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a base URL by range requests when not caching', async () => {
    hits.length = 0;
    const src = await openSource(`${base}/test/tiny/resolve/main`);
    const entries = await openCheckpoint(src);
    const e = entries.get('model.embed_tokens.weight')!;
    expect(await readTensor(src, e)).toEqual(fileBytes('model.safetensors').subarray(e.start, e.end));
    const st = hits.filter((h) => h.path.endsWith('model.safetensors') && h.method === 'GET');
    expect(st.length).toBeGreaterThan(1);
    expect(st.every((h) => h.range !== undefined)).toBe(true);
    const src2 = await openSource({ baseUrl: `${base}/test/tiny/resolve/main/` });
    expect(await src2.exists('config.json')).toBe(true);
    expect(await src2.exists('missing.json')).toBe(false);
  });

  it('cuts the asked range out of a wider 206 answer (as when a dev server reads bytes=0-0 as the whole file)', async () => {
    const src = await openSource({ baseUrl: `${base}/test/tiny/resolve/sloppy/` });
    expect(await src.readRange('model.safetensors', 0, 1)).toEqual(fileBytes('model.safetensors').subarray(0, 1));
    const entries = await openCheckpoint(src);
    const e = entries.get('model.embed_tokens.weight')!;
    expect(await readTensor(src, e)).toEqual(fileBytes('model.safetensors').subarray(e.start, e.end));
  });

  it('explains HTTP errors and unreachable servers', async () => {
    const src = await openSource('test/tiny', { hubUrl: base, cache: false });
    await expect(src.readText('missing.json')).rejects.toThrow(/missing.json not found in Hub repo test\/tiny@main \(http:\/\/127.0.0.1:\d+\/test\/tiny\/resolve\/main\/missing.json\)/);
    const gated = await openSource('gated/model', { hubUrl: base, cache: false });
    await expect(gated.readText('config.json')).rejects.toThrow(/HTTP 401 .*gated or private repo\? .*HF_TOKEN/);
    const off = await openSource('test/tiny', { hubUrl: 'http://127.0.0.1:1', cache: false });
    await expect(off.readText('config.json')).rejects.toThrow(/could not reach http:\/\/127.0.0.1:1\/test\/tiny\/resolve\/main\/config.json .*offline/);
  });
});
