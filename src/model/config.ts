// The one place where a Hugging Face config.json (and generation_config.json) becomes the engine's
// ModelConfig: snake_case stays in HfConfig, everything downstream reads llama2.c-style camelCase names.
import { ContextTooLongError, ModelConfigError, UnsupportedModelError } from '../errors';
import { readJson } from './json_file';
import { kRopeTypes, type RopeSpec, type RopeType } from './rope';
import type { ModelSource } from './source';

/** Architectures this engine runs, by their `architectures[0]` class name. */
export const kArchitectures = {
  LlamaForCausalLM: 'llama',
  Qwen2ForCausalLM: 'qwen2',
  MistralForCausalLM: 'mistral',
} as const;
export type Arch = (typeof kArchitectures)[keyof typeof kArchitectures];

/** A model's shape and conventions, normalised from config.json. */
export interface ModelConfig {
  arch: Arch;
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  /** `head_dim` if given, else dim / nHeads. */
  headSize: number;
  /** nHeads * headSize (differs from dim when head_dim is explicit, e.g. Mistral-Nemo). */
  qDim: number;
  /** nKvHeads * headSize. */
  kvDim: number;
  vocabSize: number;
  normEps: number;
  /** max_position_embeddings. */
  maxPos: number;
  rope: RopeSpec;
  /** q/k/v projections have biases (Qwen2). */
  qkvBias: boolean;
  /** MLP projections have biases (llama `mlp_bias`); always false today: normalizeConfig refuses true. */
  mlpBias: boolean;
  /** lm_head shares the embedding matrix. */
  tieEmbeddings: boolean;
  bosTokenId?: number;
  /** Every id that ends generation: generation_config.json's first, then config.json's. */
  eosTokenIds: number[];
  /**
   * The model's sliding attention window when some layer uses one (Mistral v0.1, Qwen2 with
   * use_sliding_window). The engine computes full attention, which equals the model's only while a sequence
   * is at most this long: callers must refuse longer sequences (see `checkSequenceLength`).
   */
  slidingWindow?: number;
  hiddenAct: 'silu';
}

/** config.json fields read here (transformers 4.x and 5.x spellings). */
export interface HfConfig {
  architectures?: string[];
  model_type?: string;
  hidden_size?: number;
  intermediate_size?: number;
  num_hidden_layers?: number;
  num_attention_heads?: number;
  num_key_value_heads?: number | null;
  head_dim?: number | null;
  vocab_size?: number;
  rms_norm_eps?: number;
  max_position_embeddings?: number;
  hidden_act?: string;
  hidden_activation?: string;
  /** transformers 4.x */
  rope_theta?: number;
  /** transformers 4.x: `rope_type` (or legacy `type`) plus the type's fields; null means default. */
  rope_scaling?: HfRopeParameters | null;
  /** transformers 5.x: theta and scaling together. */
  rope_parameters?: HfRopeParameters | null;
  partial_rotary_factor?: number;
  attention_bias?: boolean;
  mlp_bias?: boolean;
  tie_word_embeddings?: boolean;
  bos_token_id?: number | null;
  eos_token_id?: number | number[] | null;
  sliding_window?: number | null;
  use_sliding_window?: boolean;
  max_window_layers?: number;
  layer_types?: string[];
  quantization_config?: { quant_method?: string } & Record<string, unknown>;
  [key: string]: unknown;
}

export interface HfRopeParameters {
  rope_type?: string;
  type?: string;
  rope_theta?: number;
  factor?: number;
  low_freq_factor?: number;
  high_freq_factor?: number;
  original_max_position_embeddings?: number;
  partial_rotary_factor?: number;
  [key: string]: unknown;
}

/** generation_config.json fields read here. */
export interface HfGenerationConfig {
  bos_token_id?: number | null;
  eos_token_id?: number | number[] | null;
  [key: string]: unknown;
}

/**
 * Upper bounds on config.json's sizes, checked before anything is allocated from them: several times the
 * largest released models (Llama 3.1 405B: 126 layers, hidden 16384, MLP 53248, 128 heads; vocabularies up
 * to ~262K; 10M positions), far below what would exhaust memory when a table is sized by them.
 */
export const kConfigLimits = {
  num_hidden_layers: 1024,
  hidden_size: 65536,
  intermediate_size: 1 << 20,
  num_attention_heads: 1024,
  num_key_value_heads: 1024,
  head_dim: 1024,
  vocab_size: 1 << 24,
  max_position_embeddings: 1 << 24,
  sliding_window: 1 << 24,
  max_window_layers: 1024,
} as const;

// transformers' defaults where config.json may omit a field (per arch where they differ)
const kDefaults: Record<Arch, { maxPos: number; theta: number; normEps: number }> = {
  llama: { maxPos: 2048, theta: 10000, normEps: 1e-6 },
  qwen2: { maxPos: 32768, theta: 10000, normEps: 1e-6 },
  mistral: { maxPos: 131072, theta: 10000, normEps: 1e-6 },
};

/** Maps config.json (and optionally generation_config.json) to a validated ModelConfig, or throws naming the field. */
export function normalizeConfig(hf: HfConfig, gen?: HfGenerationConfig): ModelConfig {
  if (hf === null || typeof hf !== 'object' || Array.isArray(hf)) throw new ModelConfigError('config.json: expected a JSON object');
  if (gen !== undefined && (gen === null || typeof gen !== 'object' || Array.isArray(gen))) {
    throw new ModelConfigError('generation_config.json: expected a JSON object');
  }
  const arch = archOf(hf);
  if (hf.quantization_config !== undefined && hf.quantization_config !== null) {
    const q = hf.quantization_config;
    const method = typeof q === 'object' && typeof q.quant_method === 'string' ? q.quant_method : 'unknown';
    throw new UnsupportedModelError(
      `config.json: quantized checkpoints (quantization_config.quant_method "${method}") are not supported; ` +
        'use an unquantized F32/F16/BF16 checkpoint',
    );
  }
  const act = hf.hidden_act ?? hf.hidden_activation ?? 'silu';
  if (typeof act !== 'string') throw new ModelConfigError(`config.json: "hidden_act" must be a string, got ${JSON.stringify(act)}`);
  if (act !== 'silu' && act !== 'swish') {
    throw new UnsupportedModelError(`config.json: hidden_act "${act}" is not supported; supported: silu`);
  }

  const dim = posInt(hf, 'hidden_size');
  const hiddenDim = posInt(hf, 'intermediate_size');
  const nLayers = posInt(hf, 'num_hidden_layers');
  const nHeads = posInt(hf, 'num_attention_heads');
  const nKvHeads = hf.num_key_value_heads == null ? nHeads : posInt(hf, 'num_key_value_heads');
  if (nHeads % nKvHeads !== 0) {
    throw new ModelConfigError(`config.json: num_attention_heads (${nHeads}) must be a multiple of num_key_value_heads (${nKvHeads})`);
  }
  let headSize: number;
  if (hf.head_dim != null) {
    headSize = posInt(hf, 'head_dim');
  } else {
    if (dim % nHeads !== 0) {
      throw new ModelConfigError(`config.json: hidden_size (${dim}) is not a multiple of num_attention_heads (${nHeads}) and head_dim is not given`);
    }
    headSize = dim / nHeads;
    if (headSize > kConfigLimits.head_dim) {
      throw new ModelConfigError(`config.json: the head size hidden_size / num_attention_heads is ${headSize}, above the limit of ${kConfigLimits.head_dim}`);
    }
  }
  if (headSize % 2 !== 0) throw new ModelConfigError(`config.json: head size ${headSize} must be even for rotary embeddings`);
  const vocabSize = posInt(hf, 'vocab_size');
  const d = kDefaults[arch];
  const maxPos = hf.max_position_embeddings == null ? d.maxPos : posInt(hf, 'max_position_embeddings');
  const normEps = hf.rms_norm_eps ?? d.normEps;
  if (typeof normEps !== 'number' || !(normEps > 0) || !Number.isFinite(normEps)) {
    throw new ModelConfigError(`config.json: rms_norm_eps must be a positive number, got ${JSON.stringify(hf.rms_norm_eps)}`);
  }

  // llama's attention_bias also puts a bias on o_proj, and mlp_bias on all three MLP projections: the
  // forward pass has neither, so refuse rather than compute something else
  const attentionBias = flag(hf, 'attention_bias', false);
  if (arch === 'llama' && attentionBias) {
    throw new UnsupportedModelError('config.json: attention_bias=true (biases on q/k/v and o_proj) is not supported for llama checkpoints');
  }
  if (flag(hf, 'mlp_bias', false)) throw new UnsupportedModelError('config.json: mlp_bias=true is not supported');

  return {
    arch,
    dim,
    hiddenDim,
    nLayers,
    nHeads,
    nKvHeads,
    headSize,
    qDim: nHeads * headSize,
    kvDim: nKvHeads * headSize,
    vocabSize,
    normEps,
    maxPos,
    rope: ropeOf(hf, d.theta),
    qkvBias: arch === 'qwen2',
    mlpBias: false,
    tieEmbeddings: flag(hf, 'tie_word_embeddings', false),
    bosTokenId: tokenId(gen?.bos_token_id, 'generation_config.json: bos_token_id') ?? tokenId(hf.bos_token_id, 'config.json: bos_token_id'),
    eosTokenIds: [...new Set([...tokenIds(gen?.eos_token_id, 'generation_config.json'), ...tokenIds(hf.eos_token_id, 'config.json')])],
    slidingWindow: slidingWindowOf(hf, arch, nLayers, maxPos),
    hiddenAct: 'silu',
  };
}

/** config.json (+ generation_config.json) of `src`, size-capped, parsed naming the file, and normalized. */
export async function readModelConfig(src: ModelSource): Promise<ModelConfig> {
  const hf = await readJson(src, 'config.json');
  let gen: unknown;
  if (await src.exists('generation_config.json')) gen = await readJson(src, 'generation_config.json');
  return normalizeConfig(hf as HfConfig, gen as HfGenerationConfig | undefined);
}

/** Throws if a sequence of `seqLen` positions would need the sliding window the engine does not implement. */
export function checkSequenceLength(cfg: ModelConfig, seqLen: number): void {
  if (cfg.slidingWindow !== undefined && seqLen > cfg.slidingWindow) {
    throw new ContextTooLongError(
      `${seqLen} tokens exceed this model's sliding attention window (${cfg.slidingWindow}); ` +
        'the engine computes full attention, which matches the model only up to the window',
    );
  }
}

// ---- fields

function archOf(hf: HfConfig): Arch {
  const supported = Object.keys(kArchitectures).join(', ');
  const list = hf.architectures;
  if (list !== undefined && list !== null) {
    if (!Array.isArray(list) || !list.every((c) => typeof c === 'string')) {
      throw new ModelConfigError(`config.json: "architectures" must be a list of class names, got ${short(list)}`);
    }
    const cls = list[0];
    if (cls !== undefined) {
      // own keys only: "toString" or "__proto__" must not match what every object inherits
      if (Object.hasOwn(kArchitectures, cls)) return kArchitectures[cls as keyof typeof kArchitectures];
      throw new UnsupportedModelError(`config.json: architecture "${cls}" is not supported; supported: ${supported}`);
    }
  }
  if (hf.model_type !== undefined && typeof hf.model_type !== 'string') {
    throw new ModelConfigError(`config.json: "model_type" must be a string, got ${short(hf.model_type)}`);
  }
  const byType = Object.values(kArchitectures).find((a) => a === hf.model_type);
  if (byType) return byType;
  throw new UnsupportedModelError(`config.json: no "architectures" entry (model_type ${JSON.stringify(hf.model_type)}); supported: ${supported}`);
}

function ropeOf(hf: HfConfig, defaultTheta: number): RopeSpec {
  // 5.x keeps everything in rope_parameters; 4.x has top-level rope_theta and an optional rope_scaling
  const p: HfRopeParameters = { ...ropeObject(hf, 'rope_scaling'), ...ropeObject(hf, 'rope_parameters') };
  if (Object.hasOwn(p, 'full_attention') || Object.hasOwn(p, 'sliding_attention')) {
    throw new UnsupportedModelError('config.json: per-layer-type rope_parameters are not supported');
  }
  const type = p.rope_type ?? p.type ?? 'default';
  if (typeof type !== 'string') throw new ModelConfigError(`config.json: rope_type must be a string, got ${short(type)}`);
  if (!(kRopeTypes as readonly string[]).includes(type)) {
    throw new UnsupportedModelError(`config.json: rope type "${type}" is not supported; supported: ${kRopeTypes.join(', ')}`);
  }
  const partial = p.partial_rotary_factor ?? hf.partial_rotary_factor ?? 1;
  if (partial !== 1) {
    if (typeof partial !== 'number') throw new ModelConfigError(`config.json: partial_rotary_factor must be a number, got ${short(partial)}`);
    throw new UnsupportedModelError(`config.json: partial_rotary_factor ${partial} is not supported (only 1)`);
  }
  const theta = p.rope_theta ?? hf.rope_theta ?? defaultTheta;
  if (typeof theta !== 'number' || !(theta > 0) || !Number.isFinite(theta)) {
    throw new ModelConfigError(`config.json: rope_theta must be a positive number, got ${JSON.stringify(theta)}`);
  }
  const spec: RopeSpec = { theta, type: type as RopeType };
  if (type === 'llama3') {
    const field = (k: keyof HfRopeParameters): number => {
      const v = p[k];
      if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) {
        throw new ModelConfigError(`config.json: llama3 rope scaling needs a positive number "${String(k)}", got ${JSON.stringify(v)}`);
      }
      return v;
    };
    spec.factor = field('factor');
    spec.lowFreqFactor = field('low_freq_factor');
    spec.highFreqFactor = field('high_freq_factor');
    spec.originalMaxPositionEmbeddings = field('original_max_position_embeddings');
    if (!(spec.highFreqFactor > spec.lowFreqFactor)) {
      throw new ModelConfigError(
        `config.json: llama3 rope scaling needs high_freq_factor (${spec.highFreqFactor}) > low_freq_factor (${spec.lowFreqFactor})`,
      );
    }
  }
  return spec;
}

/** rope_scaling / rope_parameters: an object or null; a string, number or list is an error, never "default". */
function ropeObject(hf: HfConfig, key: 'rope_scaling' | 'rope_parameters'): HfRopeParameters {
  const v = hf[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ModelConfigError(`config.json: "${key}" must be an object or null, got ${short(v)}`);
  return v;
}

function slidingWindowOf(hf: HfConfig, arch: Arch, nLayers: number, maxPos: number): number | undefined {
  if (arch === 'llama' || hf.sliding_window == null) return undefined;
  if (arch === 'qwen2') {
    // transformers: a Qwen2 layer slides only with use_sliding_window and index >= max_window_layers
    if (!flag(hf, 'use_sliding_window', false)) return undefined;
    const types = hf.layer_types;
    if (types !== undefined && types !== null && (!Array.isArray(types) || !types.every((t) => typeof t === 'string'))) {
      throw new ModelConfigError(`config.json: "layer_types" must be a list of strings, got ${short(types)}`);
    }
    const windowLayers = hf.max_window_layers == null ? nLayers : nonNegInt(hf, 'max_window_layers');
    if (types ? !types.includes('sliding_attention') : windowLayers >= nLayers) return undefined;
  }
  const w = posInt(hf, 'sliding_window');
  return w >= maxPos ? undefined : w;
}

function posInt(hf: HfConfig, key: keyof typeof kConfigLimits): number {
  return intField(hf, key, 1);
}

function nonNegInt(hf: HfConfig, key: keyof typeof kConfigLimits): number {
  return intField(hf, key, 0);
}

/** An integer field in [min, kConfigLimits[key]]: the error names the field, its value and the limit. */
function intField(hf: HfConfig, key: keyof typeof kConfigLimits, min: 0 | 1): number {
  const v = hf[key];
  if (v === undefined || v === null) throw new ModelConfigError(`config.json: missing "${key}"`);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new ModelConfigError(`config.json: "${key}" must be a ${min ? 'positive' : 'non-negative'} integer, got ${short(v)}`);
  }
  if (v > kConfigLimits[key]) throw new ModelConfigError(`config.json: "${key}" is ${v}, above the limit of ${kConfigLimits[key]}`);
  return v;
}

function flag(hf: HfConfig, key: keyof HfConfig & string, dflt: boolean): boolean {
  const v = hf[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw new ModelConfigError(`config.json: "${key}" must be true or false, got ${short(v)}`);
  return v;
}

function tokenId(v: unknown, where: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new ModelConfigError(`${where} must be a token id, got ${short(v)}`);
  return v;
}

function tokenIds(v: unknown, file: string): number[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => tokenId(x, `${file}: eos_token_id`)!);
}

function short(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
