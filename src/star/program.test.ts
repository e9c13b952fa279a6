// The compiled per-host programs, checked against Star Attention's definition written out here token by
// token (not from ./program's own rules): in phase 1 a token of block 0 sees the tokens before it, a token
// of any other block sees the anchor (the context's first a tokens) and the tokens of its block before it;
// in phase 2 the query sees every context token exactly once across hosts, then itself causally.
import { describe, expect, it } from 'vitest';
import { KvCacheFullError, StarConfigError } from '../errors';
import type { Visibility } from '../hosts/host';
import { compileStar, shardVisibility, tailChunk, type StarProgram, type StarSpec } from './program';

const base = { queryLen: 3, maxNewTokens: 4, bindAlign: 256, qDim: 64, nHeads: 4 } as const;

/** Cache rows a query row sees under `vis` (the rule the attention kernels implement). */
function seen(vis: Visibility, i: number): number[] {
  const rows: number[] = [];
  for (let j = 0; j < vis.fullLen; j++) rows.push(vis.fullStart + j);
  for (let j = 0; j < vis.kvLen; j++) if (!vis.causal || j <= i + vis.causalOffset) rows.push(vis.kvStart + j);
  return rows;
}

/** Star Attention's phase-1 rule: the context positions token t sees, given block size b and anchor a. */
function expectedKeys(t: number, b: number, a: number): number[] {
  const k = Math.floor(t / b);
  const own = Array.from({ length: t - k * b + 1 }, (_, j) => k * b + j);
  return k === 0 ? own : [...Array.from({ length: a }, (_, j) => j), ...own];
}

/**
 * Replays a program: which context position each cache row holds (from the chunks' tokenStart/position0),
 * and which positions every encoded token saw. Checks the per-chunk invariants on the way.
 */
function replay(p: StarProgram, spec: StarSpec) {
  const seenBy = new Map<string, number[]>(); // `${host}:${position}` → positions seen
  const rowPos: Map<number, number>[] = [];
  for (const hp of p.hosts) {
    const rows = new Map<number, number>();
    rowPos.push(rows);
    for (const c of hp.encode) {
      expect(c.rows).toBeGreaterThan(0);
      expect(c.rows).toBeLessThanOrEqual(spec.chunkRows);
      expect(c.position0).toBe(c.tokenStart); // a chunk's ids are the context tokens at its positions
      expect(c.cacheRow + c.rows).toBeLessThanOrEqual(hp.capacity);
      // windows cover the chunk's rows exactly once, in order, each bindable where it starts
      let next = 0;
      for (const w of c.windows) {
        expect(w.row0).toBe(next);
        expect((w.row0 * spec.qDim * 4) % spec.bindAlign).toBe(0);
        next += w.rows;
      }
      expect(next).toBe(c.rows);
      for (let i = 0; i < c.rows; i++) rows.set(c.cacheRow + i, c.position0 + i);
      for (const w of c.windows) {
        for (let i = 0; i < w.rows; i++) {
          const keys = seen(w.vis, i).map((r) => {
            const pos = rows.get(r);
            if (pos === undefined) throw new Error(`host ${hp.host}: row ${r} read before it was written`);
            return pos;
          });
          seenBy.set(`${hp.host}:${c.position0 + w.row0 + i}`, keys);
        }
      }
    }
  }
  return { seenBy, rowPos };
}

/** Every combination the existing GPU tests use, plus ragged last blocks and blocks longer than a chunk. */
const kCases: Array<{ ctxLen: number; b: number; a?: number; hosts: number; chunkRows: number }> = [
  { ctxLen: 64, b: 16, a: 16, hosts: 1, chunkRows: 128 },
  { ctxLen: 64, b: 16, a: 5, hosts: 2, chunkRows: 128 },
  { ctxLen: 64, b: 24, a: 24, hosts: 3, chunkRows: 16 },
  { ctxLen: 64, b: 29, a: 11, hosts: 2, chunkRows: 16 },
  { ctxLen: 70, b: 16, a: 8, hosts: 3, chunkRows: 128 },
  { ctxLen: 96, b: 32, hosts: 2, chunkRows: 16 },
  { ctxLen: 1000, b: 64, hosts: 4, chunkRows: 512 },
  { ctxLen: 1000, b: 100, a: 37, hosts: 4, chunkRows: 48 }, // blocks longer than a chunk, ragged last block
  { ctxLen: 257, b: 16, hosts: 3, chunkRows: 50 }, // chunks that are not a multiple of the block
];

describe('compileStar', () => {
  for (const c of kCases) {
    for (const mode of ['workers', 'single-device'] as const) {
      for (const batchBlocks of [true, false]) {
        it(`L=${c.ctxLen} b=${c.b} a=${c.a ?? c.b} hosts=${c.hosts} chunk ${c.chunkRows}, ${mode}${batchBlocks ? '' : ', a chunk per block'}`, () => {
          const spec: StarSpec = { ...base, attention: 'star', ctxLen: c.ctxLen, blockSize: c.b, anchorSize: c.a, hosts: c.hosts, mode, chunkRows: c.chunkRows, batchBlocks };
          const p = compileStar(spec);
          const a = Math.min(c.a ?? c.b, c.b, c.ctxLen);
          expect(p.hosts.length).toBe(mode === 'workers' ? c.hosts : 1);
          expect(p.logicalHosts).toBe(c.hosts);
          const { seenBy, rowPos } = replay(p, spec);

          // phase 1: every context token is encoded by exactly one host's shard, and saw exactly Star's keys
          for (let t = 0; t < c.ctxLen; t++) {
            const holders = p.hosts.filter((hp, h) => {
              const rows = [...rowPos[h].entries()].filter(([r, pos]) => pos === t && r >= hp.shard.start && r < hp.shard.start + hp.shard.rows);
              return rows.length === 1;
            });
            expect(holders.length, `token ${t}`).toBe(1);
            const got = seenBy.get(`${holders[0].host}:${t}`);
            expect(got, `token ${t}`).toEqual(expectedKeys(t, c.b, a));
          }

          // phase 2: the shards together show every context token once; the anchor copies are not shown
          const shown = p.hosts.flatMap((hp, h) => seen(shardVisibility(hp), 0).map((r) => rowPos[h].get(r)));
          expect(shown.sort((x, y) => x! - y!)).toEqual(Array.from({ length: c.ctxLen }, (_, t) => t));

          // the query host's tail: after its shard, at positions from L, seeing its shard then itself causally
          const qp = p.hosts[p.hosts.length - 1];
          const q = tailChunk(qp, 0, base.queryLen);
          expect(q.position0).toBe(c.ctxLen);
          expect(seen(q.windows[0].vis, 1)).toEqual([...seen(shardVisibility(qp), 0), q.cacheRow, q.cacheRow + 1]);
          const last = tailChunk(qp, base.queryLen + base.maxNewTokens - 1, 1);
          expect(last.cacheRow + 1).toBe(qp.capacity);
          expect(() => tailChunk(qp, base.queryLen + base.maxNewTokens, 1)).toThrow(KvCacheFullError);
          expect(p.hosts.slice(0, -1).every((hp) => hp.tail === undefined)).toBe(true);
        });
      }
    }
  }

  it('packs runs of short blocks into one chunk where the windows can be bound, as phase 1 did before', () => {
    // the block_batch GPU test's numbers: 16-token blocks, 128-row chunks, 64-wide q at 256-byte alignment
    const spec = (hosts: number, batchBlocks: boolean): StarSpec => ({
      ...base, attention: 'star', ctxLen: 64, blockSize: 16, anchorSize: 16, hosts, mode: 'workers', chunkRows: 128, batchBlocks,
    });
    const chunks = (p: StarProgram) => p.hosts.reduce((n, h) => n + h.encode.length, 0);
    for (const hosts of [1, 2]) {
      expect(chunks(compileStar(spec(hosts, false)))).toBe(4 + (hosts - 1)); // a chunk per block, plus the anchor
      expect(chunks(compileStar(spec(hosts, true)))).toBe(hosts + (hosts - 1));
    }
    // 12-token blocks would start windows at 12·64·4 = 3072 bytes: bindable; at 3 heads of 4 (qDim 12) not
    const odd = compileStar({ ...spec(1, true), blockSize: 12, anchorSize: 12, qDim: 12, nHeads: 3 });
    expect(odd.hosts[0].encode.length).toBe(Math.ceil(64 / 12));
  });

  it('global attention is the one-block, one-host program', () => {
    const p = compileStar({ ...base, attention: 'global', ctxLen: 40, chunkRows: 16 });
    expect(p.hosts.length).toBe(1);
    expect(p.hosts[0].encode.map((c) => [c.tokenStart, c.rows])).toEqual([[0, 16], [16, 16], [32, 8]]);
    expect(p.hosts[0].capacity).toBe(40 + base.queryLen + base.maxNewTokens);
    // a one-token prompt: nothing to encode
    const empty = compileStar({ ...base, attention: 'global', ctxLen: 0, chunkRows: 16 });
    expect(empty.hosts[0].encode).toEqual([]);
    expect(tailChunk(empty.hosts[0], 0, 3).cacheRow).toBe(0);
  });

  it('resolves sizes against L, the context length, and names the setting in errors', () => {
    const p = compileStar({ ...base, attention: 'star', ctxLen: 1000, blockSize: 'L/4', anchorSize: 'L/8', hosts: 4, chunkRows: 512 });
    expect([p.plan.blockSize, p.plan.anchorSize]).toEqual([250, 125]);
    const bad = (s: Partial<StarSpec>) => () => compileStar({ ...base, attention: 'star', ctxLen: 64, blockSize: 16, chunkRows: 16, ...s });
    expect(bad({ blockSize: 0 })).toThrow(/blockSize must be a positive integer/);
    expect(bad({ blockSize: 'L/0' })).toThrow(StarConfigError);
    expect(bad({ blockSize: 'L/128' })).toThrow(/blockSize "L\/128" is 0 tokens for L = 64/);
    expect(bad({ anchorSize: 17 })).toThrow(/anchorSize \(17\) must not exceed blockSize/);
    expect(bad({ hosts: 5 })).toThrow(/5 hosts but only 4 block/);
    expect(bad({ hosts: 0 })).toThrow(/hosts must be at least 1/);
    expect(bad({ blockSize: undefined })).toThrow(/needs blockSize/);
    expect(bad({ mode: 'cluster' as never })).toThrow(/mode must be/);
    expect(bad({ chunkRows: 0 })).toThrow(/chunkRows must be a positive integer/);
    expect(() => compileStar({ ...base, attention: 'global', ctxLen: 64, hosts: 2, mode: 'workers', chunkRows: 16 })).toThrow(/global attention runs on one host/);
  });
});
