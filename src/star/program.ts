// Star Attention compiled: from (context, query, block, anchor, hosts, mode, chunk rows, the devices' binding
// alignment) to one program per host — the chunks it encodes in phase 1, each with its rows, cache rows,
// positions and attention windows, and what its cache shows in phase 2. Every rule of Star Attention that
// decides which key a query row sees is here (block geometry in ./plan); hosts only execute. Pure, no GPU.
import { KvCacheFullError, StarConfigError } from '../errors';
import type { ChunkSpec, Visibility } from '../hosts/host';
import { planStar, type HostPlan, type StarPlan } from './plan';
import { resolveSize, type SizeSpec } from './size';

export type StarMode = 'workers' | 'single-device';

/** Everything that decides a run's geometry. */
export interface StarSpec {
  attention: 'global' | 'star';
  /** Tokens before the query (L, the length Star splits). */
  ctxLen: number;
  queryLen: number;
  maxNewTokens: number;
  /** Star only: tokens or an expression of L (see ./size). */
  blockSize?: SizeSpec;
  /** Star only: default = blockSize. */
  anchorSize?: SizeSpec;
  /** Hosts Star splits the context over (default 1); in single-device mode one device holds them all. */
  hosts?: number;
  mode?: StarMode;
  /** Rows a host runs at once. */
  chunkRows: number;
  /**
   * The hosts' devices' minStorageBufferOffsetAlignment (bytes): several short blocks share a chunk only
   * where each block's q, out and lse rows can be bound, i.e. start at a multiple of this.
   */
  bindAlign: number;
  /** The model's query width (nHeads · headSize) and head count, for the same alignment rule. */
  qDim: number;
  nHeads: number;
  /** Pack runs of short blocks into one chunk (default true; false = a chunk per block, for comparisons). */
  batchBlocks?: boolean;
}

/** A phase-1 chunk: context tokens [tokenStart, tokenStart + rows) run as `ChunkSpec`. */
export interface EncodeChunk extends ChunkSpec {
  tokenStart: number;
}

export interface HostProgram {
  host: number;
  /** KV rows the host allocates: anchor rows, its shard, and on the query host the query and generated rows. */
  capacity: number;
  /** Phase 1, in order. */
  encode: EncodeChunk[];
  /** Phase 2: cache rows of this host's context shard, every one visible to every query row (the anchor is not). */
  shard: { start: number; rows: number };
  /** The query host only: query and generated tokens are appended from this cache row and position. */
  tail?: { row: number; position: number };
}

export interface StarProgram {
  spec: StarSpec;
  /** Block geometry of the hosts that run (one in single-device mode). */
  plan: StarPlan;
  /** Hosts the context was split over as asked (plan.hosts.length in workers mode; more in single-device mode). */
  logicalHosts: number;
  mode: StarMode;
  hosts: HostProgram[];
}

/** Validates a spec and compiles its per-host programs; every error is a StarConfigError naming the setting. */
export function compileStar(spec: StarSpec): StarProgram {
  const mode = spec.mode ?? 'single-device';
  const hosts = spec.hosts ?? 1;
  if (spec.attention !== 'global' && spec.attention !== 'star') throw new StarConfigError(`attention must be 'global' or 'star', got '${spec.attention}'`);
  if (mode !== 'workers' && mode !== 'single-device') throw new StarConfigError(`mode must be 'workers' or 'single-device', got '${mode}'`);
  if (!Number.isInteger(hosts) || hosts < 1) throw new StarConfigError(`hosts must be at least 1, got ${hosts}`);
  if (!Number.isInteger(spec.chunkRows) || spec.chunkRows < 1) throw new StarConfigError(`chunkRows must be a positive integer, got ${spec.chunkRows}`);
  let plan: StarPlan;
  if (spec.attention === 'global') {
    if (hosts > 1 && mode === 'workers') throw new StarConfigError('global attention runs on one host; use attention "star" for several');
    plan = planStar(spec.ctxLen, { blockSize: Math.max(1, spec.ctxLen), hosts: 1 });
  } else {
    if (spec.blockSize === undefined) throw new StarConfigError('Star Attention needs blockSize (tokens, or a fraction of the context like "L/4")');
    const blockSize = resolveSize(spec.blockSize, spec.ctxLen, 'blockSize');
    const anchorSize = spec.anchorSize === undefined ? undefined : resolveSize(spec.anchorSize, spec.ctxLen, 'anchorSize');
    // validated against the requested host count even in single-device mode, where one device holds every shard
    const logical = planStar(spec.ctxLen, { blockSize, anchorSize, hosts });
    plan = mode === 'workers' ? logical : planStar(spec.ctxLen, { blockSize, anchorSize, hosts: 1 });
  }
  return {
    spec,
    plan,
    logicalHosts: spec.attention === 'global' ? 1 : hosts,
    mode,
    hosts: plan.hosts.map((h) => hostProgram(spec, plan, h)),
  };
}

function hostProgram(spec: StarSpec, plan: StarPlan, h: HostPlan): HostProgram {
  const shard = { start: h.anchorRows, rows: h.shardRows };
  const tailRow = h.anchorRows + h.shardRows;
  return {
    host: h.host,
    capacity: tailRow + (h.isQueryHost ? spec.queryLen + spec.maxNewTokens : 0),
    encode: phase1(spec, plan, h),
    shard,
    tail: h.isQueryHost ? { row: tailRow, position: plan.ctxLen } : undefined,
  };
}

// ---- phase 1

/** Rows [row, row + c0 + T) seen causally by a chunk starting c0 rows into a span cached from `row`. */
function causal(row: number, c0: number, T: number): Visibility {
  return { fullStart: 0, fullLen: 0, kvStart: row, kvLen: c0 + T, causal: true, causalOffset: c0 };
}

/** A span of context tokens cached from `cacheRow`, cut into chunks of at most chunkRows, each one window. */
function chunked(tokenStart: number, len: number, cacheRow: number, chunkRows: number, vis: (c0: number, T: number) => Visibility): EncodeChunk[] {
  const out: EncodeChunk[] = [];
  for (let c0 = 0; c0 < len; c0 += chunkRows) {
    const T = Math.min(chunkRows, len - c0);
    out.push({ tokenStart: tokenStart + c0, rows: T, cacheRow: cacheRow + c0, position0: tokenStart + c0, windows: [{ row0: 0, rows: T, vis: vis(c0, T) }] });
  }
  return out;
}

function phase1(spec: StarSpec, plan: StarPlan, h: HostPlan): EncodeChunk[] {
  const a = h.anchorSize;
  const chunks: EncodeChunk[] = [];
  if (h.anchorRows > 0) {
    // the anchor attends only to itself, so its KV is the same for every block: a host without block 0
    // encodes it once into rows [0, a), at positions 0..a−1
    chunks.push(...chunked(0, a, 0, spec.chunkRows, (c0, T) => causal(0, c0, T)));
  }
  // block 0 sees only itself; every other block sees the anchor's rows in full, then itself causally. With
  // one host holding block 0 the anchor's rows are block 0's first a rows, whose KV is the anchor's.
  const vis = (k: number, c0: number, T: number): Visibility => ({ ...causal(h.blockRows[k], c0, T), fullLen: h.blocks[k].index === 0 ? 0 : a });
  for (let b = 0; b < h.blocks.length; ) {
    const e = runEnd(spec, h, b);
    const first = h.blocks[b];
    const row = h.blockRows[b];
    if (e === b + 1) {
      chunks.push(...chunked(first.start, first.end - first.start, row, spec.chunkRows, (c0, T) => vis(b, c0, T)));
    } else {
      // a host's blocks are adjacent in the context and in its cache, so a run of short ones is one chunk: the
      // matmuls see all its rows at once, attention runs one window per block
      const last = h.blocks[e - 1];
      const windows = [];
      for (let k = b; k < e; k++) {
        const len = h.blocks[k].end - h.blocks[k].start;
        windows.push({ row0: h.blockRows[k] - row, rows: len, vis: vis(k, 0, len) });
      }
      chunks.push({ tokenStart: first.start, rows: last.end - first.start, cacheRow: row, position0: first.start, windows });
    }
    b = e;
  }
  return chunks;
}

/**
 * The end of the run of blocks from `b` that phase 1 encodes as one chunk: whole blocks that fit in a chunk,
 * each starting where its q, out and lse rows can be bound. A block alone is chunked as usual.
 */
function runEnd(spec: StarSpec, h: HostPlan, b: number): number {
  let e = b + 1;
  if (spec.batchBlocks === false) return e;
  let rows = h.blocks[b].end - h.blocks[b].start;
  while (e < h.blocks.length) {
    const len = h.blocks[e].end - h.blocks[e].start;
    if (rows + len > spec.chunkRows || !windowAligned(spec, rows)) break;
    rows += len;
    e++;
  }
  return e;
}

/** Whether a window may start `row0` rows into a chunk: its q, out and lse rows must be bindable there. */
export function windowAligned(spec: Pick<StarSpec, 'bindAlign' | 'qDim' | 'nHeads'>, row0: number): boolean {
  return (row0 * spec.qDim * 4) % spec.bindAlign === 0 && (row0 * spec.nHeads * 4) % spec.bindAlign === 0;
}

// ---- phase 2

/** What another host's query rows see of this host's cache: its context shard, in full. */
export function shardVisibility(p: HostProgram): Visibility {
  return { fullStart: p.shard.start, fullLen: p.shard.rows, kvStart: 0, kvLen: 0, causal: false, causalOffset: 0 };
}

/**
 * The query host's next chunk of `rows` query or generated tokens, `done` of them cached before: it sees
 * its context shard in full, then the query's own rows causally.
 */
export function tailChunk(p: HostProgram, done: number, rows: number): ChunkSpec {
  if (!p.tail) throw new StarConfigError(`host ${p.host} is not the query host`);
  const cacheRow = p.tail.row + done;
  if (cacheRow + rows > p.capacity) {
    throw new KvCacheFullError(`host ${p.host}: KV cache full (${p.capacity} rows); raise maxNewTokens headroom or shorten the input`);
  }
  const vis: Visibility = { ...shardVisibility(p), kvStart: p.tail.row, kvLen: done + rows, causal: true, causalOffset: done };
  return { rows, cacheRow, position0: p.tail.position + done, windows: [{ row0: 0, rows, vis }] };
}
