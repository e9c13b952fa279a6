// The memory plan of a run, made before anything is allocated: per host, the weights, the KV cache (per its
// element type and paged by the binding limit) and the activations, against the device's maxBufferSize,
// its binding limit and, where known, its memory. A run that cannot fit is refused with the numbers and what
// would fit (a shorter context, more hosts, a 16-bit KV cache).
import { MemoryPlanError } from '../errors';
import { attentionScratchBytes } from '../gpu/ops/attention';
import type { ModelConfig } from '../model/config';
import { kvCacheBytes, kvPageRows, kvRowBytes, type KvDtype } from '../model/kv_cache';
import { ropeTableBytes, weightBytes } from '../model/memory';
import { runStateBytes } from '../model/state';
import type { WeightStorage } from '../model/weights';
import type { StarProgram } from './program';

/** What the plan is made for: the model as loaded and the devices it runs on. */
export interface MemoryInputs {
  cfg: ModelConfig;
  storage: WeightStorage;
  /** q8_0 / q4_0: the embedding and LM head quantized too. */
  quantizeEmbeddings?: boolean;
  /** Positions the RoPE table covers (the engine's maxContext). */
  maxPositions: number;
  chunkRows: number;
  kvDtype: KvDtype;
  /** Every host device's maxBufferSize. */
  maxBufferSize: number;
  /** Every host device's maxStorageBufferBindingSize: what an unsplit buffer (an activation) must fit. */
  bindingLimit: number;
  /** The binding size KV pages and split weights are planned with: bindingLimit, or a smaller cap. */
  maxBindingBytes: number;
  /** Memory each host's device may use, where known (a platform report or the user's budget). */
  deviceBytes?: number;
  /**
   * Workers mode with every host on the same GPU (Web Workers in one browser; Node hosts not pinned to GPUs of
   * their own): the hosts' sum must fit deviceBytes too, since each holds a copy of the weights.
   */
  hostsShareDevice?: boolean;
}

export interface HostMemory {
  host: number;
  /** KV rows (per layer, K and V each). */
  kvRows: number;
  weights: number;
  kv: number;
  /** Pages per layer and per K/V, and the bytes of a full page. */
  kvPages: number;
  kvPageBytes: number;
  /** RoPE table, activations, attention scratch and (on the query host of several) merge buffers. */
  activations: number;
  total: number;
}

export interface MemoryPlan {
  kvDtype: KvDtype;
  hosts: HostMemory[];
  /** Sum over hosts. */
  total: number;
  maxBufferSize: number;
  maxBindingBytes: number;
  deviceBytes?: number;
  /** The largest single buffer any host allocates (weights are split by the binding limit, KV is paged). */
  largestBuffer: number;
}

/** Activation bytes of one host: everything but weights and KV. */
function activationBytes(m: MemoryInputs, nHosts: number, isQueryHost: boolean): { total: number; largest: number } {
  const { cfg, chunkRows } = m;
  const state = runStateBytes(cfg, chunkRows);
  const scratch = attentionScratchBytes({ maxRows: chunkRows, nHeads: cfg.nHeads, headSize: cfg.headSize });
  // the query host of several merges every host's (out, lse) for a chunk of query rows
  const merge = isQueryHost && nHosts > 1 ? nHosts * chunkRows * (cfg.qDim + cfg.nHeads) * 4 : 0;
  const rope = ropeTableBytes(cfg, m.maxPositions);
  return { total: state.total + scratch.total + merge + rope, largest: Math.max(state.largest, scratch.largest, merge / 2, rope) };
}

export function planMemory(program: StarProgram, m: MemoryInputs): MemoryPlan {
  const { cfg } = m;
  const weights = weightBytes(cfg, m.storage, m.quantizeEmbeddings);
  const rowBytes = kvRowBytes(cfg, m.kvDtype);
  let largestBuffer = Math.min(weights.largest, m.maxBindingBytes);
  const hosts = program.hosts.map((hp, i): HostMemory => {
    const act = activationBytes(m, program.hosts.length, i === program.hosts.length - 1);
    const pageRows = kvPageRows(cfg, m.kvDtype, hp.capacity, m.maxBindingBytes);
    const kv = kvCacheBytes(cfg, hp.capacity, m.kvDtype);
    largestBuffer = Math.max(largestBuffer, act.largest, pageRows * rowBytes);
    return {
      host: hp.host,
      kvRows: hp.capacity,
      weights: weights.total,
      kv,
      kvPages: Math.ceil(hp.capacity / pageRows),
      kvPageBytes: pageRows * rowBytes,
      activations: act.total,
      total: weights.total + kv + act.total,
    };
  });
  return {
    kvDtype: m.kvDtype,
    hosts,
    total: hosts.reduce((n, h) => n + h.total, 0),
    maxBufferSize: m.maxBufferSize,
    maxBindingBytes: m.maxBindingBytes,
    deviceBytes: m.deviceBytes,
    largestBuffer,
  };
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/**
 * Throws MemoryPlanError when a buffer exceeds the device's limits or a host exceeds its device's memory,
 * with the numbers and what would fit.
 */
export function checkMemory(plan: MemoryPlan, program: StarProgram, m: MemoryInputs): void {
  const limit = Math.min(m.maxBufferSize, m.bindingLimit);
  const act = runStateBytes(m.cfg, m.chunkRows);
  if (act.largest > limit) {
    const rows = Math.floor((m.chunkRows * limit) / act.largest);
    throw new MemoryPlanError(
      `chunkRows ${m.chunkRows} makes an activation buffer of ${act.largest} bytes, over this device's binding limit of ${limit} bytes; use chunkRows ≤ ${rows}`,
    );
  }
  const budget = plan.deviceBytes;
  if (budget === undefined) return;
  const worst = plan.hosts.reduce((a, b) => (b.total > a.total ? b : a));
  if (worst.total <= budget) {
    if (!m.hostsShareDevice || plan.hosts.length < 2 || plan.total <= budget) return;
    const n = plan.hosts.length;
    const fit = Math.floor(budget / worst.total);
    throw new MemoryPlanError(
      `${n} hosts on one GPU need ${mib(plan.total)} together (each holds the weights, ${mib(worst.weights)}, and its KV shard), ` +
        `over the ${mib(budget)} the device may use; use ${fit >= 2 ? `at most ${fit} hosts` : 'one device (mode single-device)'}, ` +
        `a 16-bit KV cache or smaller weights, or hosts on GPUs of their own (HostDescriptor adapter / env)`,
    );
  }
  const perRow = kvCacheBytes(m.cfg, 1, m.kvDtype);
  const fixed = worst.total - worst.kv;
  const rowsFit = Math.max(0, Math.floor((budget - fixed) / perRow));
  const { ctxLen, queryLen, maxNewTokens } = program.spec;
  const extra = queryLen + maxNewTokens;
  const hints: string[] = [];
  if (fixed >= budget) {
    hints.push(`the weights and activations alone take ${mib(fixed)}: use 16-bit weight storage or fewer chunk rows`);
  } else {
    hints.push(`a context of at most ${Math.max(0, rowsFit - extra)} tokens on one host`);
    if (program.mode === 'workers' || program.logicalHosts > 1) {
      const perHost = rowsFit - extra;
      if (perHost > 0) hints.push(`or at least ${Math.ceil(ctxLen / perHost)} hosts in workers mode`);
    }
    if (m.kvDtype === 'f32') hints.push(`or kvDtype 'f16' (${kvCacheBytes(m.cfg, worst.kvRows, 'f16') < budget - fixed ? 'fits' : 'halves the KV cache'})`);
  }
  throw new MemoryPlanError(
    `host ${worst.host} needs ${mib(worst.total)} (weights ${mib(worst.weights)}, KV cache ${mib(worst.kv)} for ${worst.kvRows} rows of ` +
      `${m.kvDtype}, activations ${mib(worst.activations)}), over the ${mib(budget)} its device may use; what would fit: ${hints.join(', ')}`,
  );
}

/** The most KV rows one host can hold within `deviceBytes` (besides its weights and activations). */
export function maxKvRows(m: MemoryInputs, deviceBytes: number): number {
  const fixed = weightBytes(m.cfg, m.storage, m.quantizeEmbeddings).total + activationBytes(m, 1, true).total;
  return Math.max(0, Math.floor((deviceBytes - fixed) / kvCacheBytes(m.cfg, 1, m.kvDtype)));
}
