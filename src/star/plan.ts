// Star Attention's partition of the context: blocks, the anchor, which host holds what, and where each
// block's KV sits in its host's cache. Pure arithmetic; every check happens before any GPU work.
// ./program turns this geometry into what each host runs.
import { StarConfigError } from '../errors';

export interface StarOptions {
  /** Tokens per context block (the last block may be shorter). */
  blockSize: number;
  /** Tokens of the anchor (the context's first tokens); default = blockSize. */
  anchorSize?: number;
  /** Number of hosts (≥ 1); blocks go to hosts contiguously, the last host is the query host. */
  hosts: number;
}

export interface Block {
  index: number; // 0-based; block 0 is the paper's c1 and holds the anchor
  start: number; // first context token (global position)
  end: number; // one past the last
}

export interface HostPlan {
  host: number;
  /** Context tokens in all (query positions start here). */
  ctxLen: number;
  blocks: Block[];
  /** Rows [0, anchorRows) of this host's cache hold the anchor's KV during phase 1 only (0 on host 0). */
  anchorRows: number;
  /** The anchor length every block but block 0 attends to. */
  anchorSize: number;
  /** Cache row of each block's first token, in block order. */
  blockRows: number[];
  /** Rows holding this host's blocks: [anchorRows, anchorRows + shardRows). */
  shardRows: number;
  isQueryHost: boolean;
}

export interface StarPlan {
  ctxLen: number;
  blockSize: number;
  anchorSize: number;
  blocks: Block[];
  hosts: HostPlan[];
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new StarConfigError(`${name} must be a positive integer, got ${v}`);
}

/** Splits n items into h contiguous groups as torch.tensor_split does (the first n % h groups get one more). */
export function splitContiguous(n: number, h: number): number[] {
  const base = Math.floor(n / h);
  const extra = n % h;
  return Array.from({ length: h }, (_, i) => base + (i < extra ? 1 : 0));
}

export function planStar(ctxLen: number, opts: StarOptions): StarPlan {
  if (ctxLen === 0 && opts.hosts === 1) {
    // a prompt of one token: no context to encode, the query host starts from an empty cache
    const host: HostPlan = { host: 0, ctxLen: 0, blocks: [], anchorRows: 0, anchorSize: 0, blockRows: [], shardRows: 0, isQueryHost: true };
    return { ctxLen: 0, blockSize: Math.max(1, opts.blockSize), anchorSize: 0, blocks: [], hosts: [host] };
  }
  positiveInt('context length', ctxLen);
  positiveInt('blockSize', opts.blockSize);
  positiveInt('hosts', opts.hosts);
  const blockSize = opts.blockSize;
  const anchorSize = opts.anchorSize ?? blockSize;
  positiveInt('anchorSize', anchorSize);
  if (anchorSize > blockSize) {
    throw new StarConfigError(`anchorSize (${anchorSize}) must not exceed blockSize (${blockSize}): the anchor is a prefix of the first block`);
  }
  const nBlocks = Math.ceil(ctxLen / blockSize);
  if (opts.hosts > nBlocks) {
    throw new StarConfigError(
      `${opts.hosts} hosts but only ${nBlocks} block(s) of ${blockSize} tokens in a ${ctxLen}-token context: ` +
        `use at most ${nBlocks} hosts or a blockSize of at most ${Math.ceil(ctxLen / opts.hosts)}`,
    );
  }
  const blocks: Block[] = Array.from({ length: nBlocks }, (_, i) => ({
    index: i,
    start: i * blockSize,
    end: Math.min(ctxLen, (i + 1) * blockSize),
  }));
  const a = Math.min(anchorSize, blocks[0].end);
  const counts = splitContiguous(nBlocks, opts.hosts);
  const hosts: HostPlan[] = [];
  let next = 0;
  counts.forEach((count, h) => {
    const mine = blocks.slice(next, next + count);
    next += count;
    const anchorRows = mine[0].index === 0 ? 0 : a;
    const blockRows: number[] = [];
    let row = anchorRows;
    for (const b of mine) {
      blockRows.push(row);
      row += b.end - b.start;
    }
    hosts.push({
      host: h,
      ctxLen,
      blocks: mine,
      anchorRows,
      anchorSize: a,
      blockRows,
      shardRows: row - anchorRows,
      isQueryHost: h === counts.length - 1,
    });
  });
  return { ctxLen, blockSize, anchorSize: a, blocks, hosts };
}

/**
 * Attention FLOPs of phase 1 per layer (QKᵀ and PV, 2·qDim each per visible key), counting only visible
 * pairs: the basis of the predicted speedups printed beside the benchmarks.
 */
export function phase1AttentionFlops(plan: StarPlan, qDim: number, workersMode: boolean): number {
  let pairs = 0;
  for (const h of plan.hosts) {
    if (h.anchorRows > 0 && workersMode) pairs += (h.anchorRows * (h.anchorRows + 1)) / 2;
    for (const b of h.blocks) {
      const n = b.end - b.start;
      pairs += (n * (n + 1)) / 2 + (b.index === 0 ? 0 : n * plan.anchorSize);
    }
  }
  return 4 * qDim * pairs;
}
