// What the Node benchmarks share: flags, the synthetic context they time, one timed run, and the median.
import type { Host, ModelLocation } from '../../src/hosts/host';
import type { ModelConfig } from '../../src/model/config';
import { forwardTuning } from '../../src/model/forward';
import { runStar, type RunRequest, type RunResult } from '../../src/star/coordinator';
import type { StarPlan } from '../../src/star/plan';
import { compileStar } from '../../src/star/program';
import { kLlama31_8B, kLlama32_1B, kTiny } from './shapes';

/** The value after `--name` on the command line, else `dflt`. */
export function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

/** The model of `--model <folder>`, else random weights of `--config llama-3.2-1b|tiny`; `label` names it in results. */
export function modelFlags(): { model: ModelLocation; label: string } {
  const folder = arg('model', '');
  const shape = arg('config', 'llama-3.2-1b');
  return { model: folder || { randomConfig: shapeOf(shape) }, label: folder || shape };
}

/** The config of `--config <name>`: llama-3.2-1b (default), llama-3.1-8b, tiny. */
export function shapeOf(name: string): Record<string, unknown> {
  return name === 'tiny' ? kTiny : name === 'llama-3.1-8b' ? kLlama31_8B : kLlama32_1B;
}

/**
 * `--fuse` values of the decode benchmarks: `1` every fused decode kernel, `0` none, `qkv` the attention half
 * fused and the MLP half unfused. Returns the list and a setter of forwardTuning for one of them.
 */
export type FuseMode = '1' | '0' | 'qkv';
export function fuseModes(dflt: string): FuseMode[] {
  const modes = arg('fuse', dflt).split(',');
  for (const f of modes) if (f !== '1' && f !== '0' && f !== 'qkv') throw new Error(`--fuse: "${f}" is not 1, 0 or qkv`);
  return modes as FuseMode[];
}
export function applyFuse(f: FuseMode): void {
  forwardTuning.fuseDecode = f !== '0';
  forwardTuning.fuseGateUp = f === '1';
}
export const fuseLabel = (f: FuseMode): string => (f === '1' ? 'fused' : f === '0' ? 'unfused' : 'fused qkv');

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A context of `n` ids spread over the vocabulary (content does not matter for timing). */
export function syntheticIds(n: number, vocabSize: number): Uint32Array {
  return Uint32Array.from({ length: n }, (_, i) => (i * 2654435761) % vocabSize);
}

/**
 * One greedy run of L − 1 context tokens and a 1-token query: global attention when `blockSize` is
 * undefined, else Star over `hosts.length` hosts (workers mode), or over `nHosts` logical ones on one host.
 * `bindAlign` is the hosts' minStorageBufferOffsetAlignment (devices are requested with WebGPU's default, 256).
 */
export async function timedRun(
  hosts: Host[],
  cfg: ModelConfig,
  L: number,
  opts: { blockSize?: number; nHosts?: number; maxNewTokens: number; chunkRows: number; batchBlocks?: boolean; bindAlign?: number } & Partial<RunRequest>,
): Promise<RunResult & { plan: StarPlan }> {
  const { blockSize, nHosts = 1, chunkRows, batchBlocks, bindAlign = 256, ...rest } = opts;
  const contextIds = syntheticIds(L - 1, cfg.vocabSize);
  const program = compileStar({
    attention: blockSize === undefined ? 'global' : 'star',
    ctxLen: contextIds.length,
    queryLen: 1,
    maxNewTokens: opts.maxNewTokens,
    blockSize,
    hosts: blockSize === undefined ? 1 : Math.max(nHosts, hosts.length),
    mode: hosts.length > 1 ? 'workers' : 'single-device',
    chunkRows,
    bindAlign,
    qDim: cfg.qDim,
    nHeads: cfg.nHeads,
    batchBlocks,
  });
  const res = await runStar(hosts, {
    program,
    contextIds,
    queryIds: Uint32Array.of(1),
    nLayers: cfg.nLayers,
    kvDtype: 'f32',
    sampling: { temperature: 0, topK: 0, topP: 1 },
    uniform: () => 0.5,
    onToken: () => false,
    ...rest,
  });
  return { ...res, plan: program.plan };
}
