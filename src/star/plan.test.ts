import { describe, expect, it } from 'vitest';
import { StarConfigError } from '../errors';
import { phase1AttentionFlops, planStar, splitContiguous } from './plan';
import { resolveSize } from './size';

describe('planStar', () => {
  it('cuts blocks, gives block 1 to host 0 and the last block to the query host', () => {
    const p = planStar(70, { blockSize: 16, anchorSize: 8, hosts: 3 });
    expect(p.blocks.map((b) => [b.start, b.end])).toEqual([[0, 16], [16, 32], [32, 48], [48, 64], [64, 70]]);
    // tensor_split of 5 blocks over 3 hosts: 2, 2, 1
    expect(p.hosts.map((h) => h.blocks.map((b) => b.index))).toEqual([[0, 1], [2, 3], [4]]);
    expect(p.hosts.map((h) => h.anchorRows)).toEqual([0, 8, 8]);
    expect(p.hosts[1].blockRows).toEqual([8, 24]);
    expect(p.hosts.map((h) => h.shardRows)).toEqual([32, 32, 6]);
    expect(p.hosts.map((h) => h.isQueryHost)).toEqual([false, false, true]);
  });

  it('defaults the anchor to the block size and clips it to a short first block', () => {
    expect(planStar(40, { blockSize: 16, hosts: 1 }).anchorSize).toBe(16);
    expect(planStar(10, { blockSize: 16, hosts: 1 }).anchorSize).toBe(10);
  });

  it('rejects bad settings before any work, naming what is wrong', () => {
    expect(() => planStar(64, { blockSize: 0, hosts: 1 })).toThrow(/blockSize must be a positive integer/);
    expect(() => planStar(64, { blockSize: 8, anchorSize: 9, hosts: 1 })).toThrow(/anchorSize \(9\) must not exceed blockSize/);
    expect(() => planStar(64, { blockSize: 32, hosts: 3 })).toThrow(StarConfigError);
    expect(() => planStar(64, { blockSize: 32, hosts: 3 })).toThrow(/3 hosts but only 2 block/);
  });

  it('splits like torch.tensor_split and resolves L/n block sizes', () => {
    expect(splitContiguous(7, 3)).toEqual([3, 2, 2]);
    expect(resolveSize('L/4', 4096)).toBe(1024);
    expect(resolveSize(512, 4096)).toBe(512);
    expect(() => resolveSize('quarter', 4096)).toThrow(/neither/);
  });

  it('counts phase-1 attention pairs: N·(a + b/2) for Star against N²/2 for global', () => {
    const N = 4096, b = 1024, qDim = 64;
    const global = phase1AttentionFlops(planStar(N, { blockSize: N, hosts: 1 }), qDim, false);
    const star = phase1AttentionFlops(planStar(N, { blockSize: b, hosts: 1 }), qDim, false);
    expect(global).toBe(4 * qDim * (N * (N + 1)) / 2);
    // 4 blocks: each b(b+1)/2 causal, blocks 2..4 also see the anchor in full
    expect(star).toBe(4 * qDim * (4 * (b * (b + 1)) / 2 + 3 * b * b));
  });
});
