import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ModelConfigError, UnsupportedModelError } from '../errors';
import { checkSequenceLength, normalizeConfig, type HfConfig } from './config';
import { readModelConfig } from './load';
import { openCheckpoint } from './safetensors';
import { memorySource, openSource } from './source';
import { checkTensors } from './weights_io';

// shapes of real checkpoints (trimmed config.json files)
const llama32: HfConfig = {
  architectures: ['LlamaForCausalLM'],
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 2048,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  vocab_size: 128256,
};

const qwen25: HfConfig = {
  architectures: ['Qwen2ForCausalLM'],
  bos_token_id: 151643,
  eos_token_id: 151645,
  hidden_act: 'silu',
  hidden_size: 896,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 21,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

const mistral: HfConfig = {
  architectures: ['MistralForCausalLM'],
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 5120,
  head_dim: 128,
  intermediate_size: 14336,
  max_position_embeddings: 1024000,
  num_attention_heads: 32,
  num_hidden_layers: 40,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_theta: 1000000.0,
  sliding_window: null,
  vocab_size: 131072,
};

const with_ = (base: HfConfig, patch: Record<string, unknown>): HfConfig => ({ ...base, ...patch });

describe('normalizeConfig', () => {
  it('maps a Llama 3.2 config (4.x rope fields, eos list, explicit head_dim)', () => {
    const c = normalizeConfig(llama32);
    expect(c).toMatchObject({
      arch: 'llama', dim: 2048, hiddenDim: 8192, nLayers: 16, nHeads: 32, nKvHeads: 8, headSize: 64,
      qDim: 2048, kvDim: 512, vocabSize: 128256, normEps: 1e-5, maxPos: 131072, qkvBias: false, mlpBias: false,
      tieEmbeddings: true, bosTokenId: 128000, eosTokenIds: [128001, 128008, 128009], hiddenAct: 'silu',
    });
    expect(c.slidingWindow).toBeUndefined();
    expect(c.rope).toEqual({
      theta: 500000, type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192,
    });
  });

  it('reads transformers 5.x rope_parameters the same as 4.x rope_theta + rope_scaling', () => {
    const { rope_scaling, rope_theta, ...rest } = llama32;
    const v5 = { ...rest, rope_parameters: { ...rope_scaling, rope_theta } };
    expect(normalizeConfig(v5)).toEqual(normalizeConfig(llama32));
    // legacy `type` key and a null rope_scaling
    expect(normalizeConfig(with_(llama32, { rope_scaling: { ...rope_scaling, rope_type: undefined, type: 'llama3' } })).rope.type).toBe('llama3');
    expect(normalizeConfig(with_(llama32, { rope_scaling: null })).rope).toEqual({ theta: 500000, type: 'default' });
    expect(normalizeConfig(with_(v5, { rope_parameters: { rope_type: 'default', rope_theta: 1e6 } })).rope).toEqual({ theta: 1e6, type: 'default' });
  });

  it('maps Qwen2: q/k/v biases, single eos, unused sliding window ignored', () => {
    const c = normalizeConfig(qwen25);
    expect(c).toMatchObject({
      arch: 'qwen2', headSize: 64, qDim: 896, kvDim: 128, qkvBias: true, tieEmbeddings: true,
      bosTokenId: 151643, eosTokenIds: [151645], rope: { theta: 1e6, type: 'default' },
    });
    expect(c.slidingWindow).toBeUndefined();
    // a sliding window only counts when some layer uses it
    expect(normalizeConfig(with_(qwen25, { use_sliding_window: true, sliding_window: 4096 })).slidingWindow).toBe(4096);
    expect(normalizeConfig(with_(qwen25, { use_sliding_window: true, sliding_window: 4096, max_window_layers: 24 })).slidingWindow).toBeUndefined();
  });

  it('maps Mistral with head_dim * nHeads != hidden_size', () => {
    const c = normalizeConfig(mistral);
    expect(c).toMatchObject({ arch: 'mistral', dim: 5120, headSize: 128, qDim: 4096, kvDim: 1024, qkvBias: false, tieEmbeddings: false });
    expect(c.slidingWindow).toBeUndefined();
    const v01 = normalizeConfig(with_(mistral, { sliding_window: 4096, max_position_embeddings: 32768 }));
    expect(v01.slidingWindow).toBe(4096);
    expect(() => checkSequenceLength(v01, 4096)).not.toThrow();
    expect(() => checkSequenceLength(v01, 4097)).toThrow(/sliding attention window \(4096\)/);
  });

  it('fills defaults as transformers does', () => {
    const { num_key_value_heads, head_dim, rms_norm_eps, max_position_embeddings, rope_scaling, rope_theta, tie_word_embeddings, ...bare } = llama32;
    const c = normalizeConfig(bare);
    expect(c).toMatchObject({ nKvHeads: 32, headSize: 64, normEps: 1e-6, maxPos: 2048, rope: { theta: 10000, type: 'default' }, tieEmbeddings: false });
    expect(normalizeConfig({ ...bare, architectures: undefined, model_type: 'mistral' }).arch).toBe('mistral');
  });

  it('takes bos/eos from generation_config.json first and merges eos lists', () => {
    const c = normalizeConfig(with_(qwen25, { eos_token_id: [151645, 151643] }), { bos_token_id: 7, eos_token_id: [151643, 9] });
    expect(c.bosTokenId).toBe(7);
    expect(c.eosTokenIds).toEqual([151643, 9, 151645]);
    const none = normalizeConfig(with_(qwen25, { bos_token_id: null, eos_token_id: null }));
    expect(none.bosTokenId).toBeUndefined();
    expect(none.eosTokenIds).toEqual([]);
  });

  it('rejects what the engine cannot run, naming it and what is supported', () => {
    expect(() => normalizeConfig(with_(llama32, { architectures: ['GemmaForCausalLM'] }))).toThrow(
      /architecture "GemmaForCausalLM" is not supported; supported: LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM/,
    );
    expect(() => normalizeConfig(with_(llama32, { hidden_act: 'gelu' }))).toThrow(/hidden_act "gelu" is not supported; supported: silu/);
    expect(() => normalizeConfig(with_(llama32, { rope_scaling: { rope_type: 'yarn', factor: 4 } }))).toThrow(
      /rope type "yarn" is not supported; supported: default, llama3/,
    );
    expect(() => normalizeConfig(with_(llama32, { rope_parameters: { rope_type: 'linear', factor: 2 } }))).toThrow(/rope type "linear"/);
    expect(() => normalizeConfig(with_(llama32, { quantization_config: { quant_method: 'awq' } }))).toThrow(/quant_method "awq"/);
    expect(() => normalizeConfig(with_(llama32, { attention_bias: true }))).toThrow(/attention_bias/);
    expect(() => normalizeConfig(with_(llama32, { mlp_bias: true }))).toThrow(/mlp_bias/);
    expect(() => normalizeConfig(with_(llama32, { partial_rotary_factor: 0.5 }))).toThrow(/partial_rotary_factor/);
  });

  it('validates numbers with messages naming the field', () => {
    expect(() => normalizeConfig(with_(llama32, { hidden_size: undefined }))).toThrow(/missing "hidden_size"/);
    expect(() => normalizeConfig(with_(llama32, { num_hidden_layers: 0 }))).toThrow(/"num_hidden_layers" must be a positive integer, got 0/);
    expect(() => normalizeConfig(with_(llama32, { vocab_size: 12.5 }))).toThrow(/"vocab_size" must be a positive integer/);
    expect(() => normalizeConfig(with_(llama32, { intermediate_size: '8192' }))).toThrow(/"intermediate_size" must be a positive integer/);
    expect(() => normalizeConfig(with_(llama32, { num_key_value_heads: 5 }))).toThrow(/num_attention_heads \(32\) must be a multiple of num_key_value_heads \(5\)/);
    expect(() => normalizeConfig(with_(llama32, { head_dim: undefined, hidden_size: 2050 }))).toThrow(/not a multiple of num_attention_heads/);
    expect(() => normalizeConfig(with_(llama32, { head_dim: 63 }))).toThrow(/must be even/);
    expect(() => normalizeConfig(with_(llama32, { rms_norm_eps: -1 }))).toThrow(/rms_norm_eps/);
    expect(() => normalizeConfig(with_(llama32, { rope_theta: 0, rope_scaling: null }))).toThrow(/rope_theta must be a positive number/);
    expect(() => normalizeConfig(with_(llama32, { rope_scaling: { rope_type: 'llama3', factor: 8 } }))).toThrow(/needs a positive number "low_freq_factor"/);
    expect(() => normalizeConfig(with_(llama32, { eos_token_id: [1, 'x'] }))).toThrow(/config.json: eos_token_id must be a token id/);
    expect(() => normalizeConfig(with_(llama32, { tie_word_embeddings: 'yes' }))).toThrow(/"tie_word_embeddings" must be true or false/);
    expect(() => normalizeConfig([] as never)).toThrow(/expected a JSON object/);
  });

  it('reads every committed fixture config', () => {
    const read = (name: string, file: string) => JSON.parse(readFileSync(`public/fixtures/${name}/${file}`, 'utf8'));
    const llama = normalizeConfig(read('tiny-llama', 'config.json'), read('tiny-llama', 'generation_config.json'));
    const v4 = normalizeConfig(read('tiny-llama-v4rope', 'config.json'), read('tiny-llama-v4rope', 'generation_config.json'));
    expect(v4).toEqual(llama);
    expect(llama).toMatchObject({ arch: 'llama', nHeads: 4, nKvHeads: 2, headSize: 16, rope: { type: 'llama3', factor: 4 } });
    expect(llama.eosTokenIds.length).toBe(2);
    const qwen = normalizeConfig(read('tiny-qwen2', 'config.json'));
    expect(qwen).toMatchObject({ arch: 'qwen2', qkvBias: true, tieEmbeddings: true, nKvHeads: 1 });
    const mis = normalizeConfig(read('tiny-mistral', 'config.json'));
    expect(mis).toMatchObject({ arch: 'mistral', headSize: 32, qDim: 128, dim: 64 });
    expect(mis.slidingWindow).toBeUndefined();
  });
});

describe('normalizeConfig: bounds and malformed fields (issue 16)', () => {
  it('bounds every size before anything is sized by it, naming the field, value and limit', () => {
    const err = (patch: Record<string, unknown>) => {
      try {
        normalizeConfig(with_(llama32, patch));
      } catch (e) {
        expect(e).toBeInstanceOf(ModelConfigError);
        return (e as Error).message;
      }
      throw new Error(`accepted ${JSON.stringify(patch)}`);
    };
    expect(err({ num_hidden_layers: 1e9 })).toBe('config.json: "num_hidden_layers" is 1000000000, above the limit of 1024');
    expect(err({ num_hidden_layers: 1e6 })).toMatch(/"num_hidden_layers" is 1000000, above the limit of 1024/);
    expect(err({ hidden_size: 2 ** 20 })).toMatch(/"hidden_size" is 1048576, above the limit of 65536/);
    expect(err({ intermediate_size: 1e12 })).toMatch(/"intermediate_size" is 1000000000000, above the limit/);
    expect(err({ vocab_size: 2 ** 30 })).toMatch(/"vocab_size" is 1073741824, above the limit of 16777216/);
    expect(err({ num_attention_heads: 4096, num_key_value_heads: 8 })).toMatch(/"num_attention_heads" is 4096, above the limit of 1024/);
    expect(err({ head_dim: 1e5 })).toMatch(/"head_dim" is 100000, above the limit of 1024/);
    expect(err({ head_dim: undefined, hidden_size: 65536, num_attention_heads: 2, num_key_value_heads: 2 })).toMatch(/head size .* is 32768, above the limit of 1024/);
    expect(err({ max_position_embeddings: 1e12 })).toMatch(/"max_position_embeddings" is 1000000000000, above the limit/);
    expect(err({ num_hidden_layers: Infinity })).toMatch(/"num_hidden_layers" must be a positive integer/);
  });

  it('refuses rope_parameters / rope_scaling of the wrong type instead of defaulting', () => {
    for (const v of ['llama3', 5, [1, 2], true]) {
      expect(() => normalizeConfig(with_(llama32, { rope_parameters: v })), JSON.stringify(v)).toThrow(/"rope_parameters" must be an object or null/);
      expect(() => normalizeConfig(with_(llama32, { rope_scaling: v })), JSON.stringify(v)).toThrow(ModelConfigError);
    }
    expect(() => normalizeConfig(with_(llama32, { rope_scaling: { rope_type: 7 } }))).toThrow(/rope_type must be a string/);
  });

  it('matches architectures by own keys only, and checks the types of lists and flags', () => {
    for (const cls of ['toString', '__proto__', 'constructor', 'hasOwnProperty']) {
      expect(() => normalizeConfig(with_(llama32, { architectures: [cls] })), cls).toThrow(/architecture ".*" is not supported/);
    }
    expect(() => normalizeConfig(with_(llama32, { architectures: 'LlamaForCausalLM' }))).toThrow(/"architectures" must be a list of class names/);
    expect(() => normalizeConfig(with_(llama32, { architectures: [3] }))).toThrow(/"architectures" must be a list/);
    expect(() => normalizeConfig(with_(llama32, { architectures: undefined, model_type: 'toString' }))).toThrow(UnsupportedModelError);
    expect(() => normalizeConfig(with_(llama32, { hidden_act: 3 }))).toThrow(/"hidden_act" must be a string/);
    expect(() => normalizeConfig(with_(qwen25, { use_sliding_window: 'yes', sliding_window: 4096 }))).toThrow(/"use_sliding_window" must be true or false/);
    expect(() => normalizeConfig(with_(qwen25, { use_sliding_window: true, sliding_window: 4096, layer_types: 'all' }))).toThrow(/"layer_types" must be a list of strings/);
    expect(() => normalizeConfig(with_(llama32, {}), [] as never)).toThrow(/generation_config.json: expected a JSON object/);
    expect(() => normalizeConfig(with_(llama32, { quantization_config: 'awq' }))).toThrow(UnsupportedModelError);
  });

  it('checks the layer count and sizes against the checkpoint, in time proportional to the checkpoint', async () => {
    const src = await openSource('public/fixtures/tiny-llama');
    const hf = JSON.parse(await src.readText('config.json')) as HfConfig;
    const entries = await openCheckpoint(src);
    expect(() => checkTensors(normalizeConfig(hf), entries, 'tiny-llama')).not.toThrow();
    const at = (patch: Record<string, unknown>) => () => checkTensors(normalizeConfig(with_(hf, patch)), entries, 'tiny-llama');
    expect(at({ num_hidden_layers: 1000 })).toThrow(/^config.json: "num_hidden_layers" is 1000, but tiny-llama holds layers 0–1 only \(limit 2\)$/);
    expect(at({ num_hidden_layers: 1 })).toThrow(/"num_hidden_layers" is 1, but tiny-llama also holds model.layers.1/);
    expect(at({ vocab_size: 800 })).toThrow(/"vocab_size" is 800, but model.embed_tokens.weight in tiny-llama has 773 rows/);
    expect(at({ hidden_size: 128, head_dim: 32 })).toThrow(/"hidden_size" is 128, but model.embed_tokens.weight in tiny-llama has 64 columns/);
    expect(at({ num_hidden_layers: 1000 })).toThrow(ModelConfigError);
  });

  it('reads config.json through a size cap and names the file on a JSON error', async () => {
    await expect(readModelConfig(memorySource({ 'config.json': '{"a": ' }, 'folder m'))).rejects.toThrow(/config.json \(folder m\): not valid JSON/);
    await expect(readModelConfig(memorySource({ 'config.json': JSON.stringify(llama32), 'generation_config.json': '{,}' }, 'folder m'))).rejects.toThrow(
      /generation_config.json \(folder m\): not valid JSON/,
    );
    await expect(readModelConfig(memorySource({ 'config.json': ' '.repeat(5 << 20) }, 'folder m'))).rejects.toThrow(/config.json \(folder m\) is 5242880 bytes, more than the limit/);
    await expect(readModelConfig(memorySource({ 'config.json': 'null' }, 'folder m'))).rejects.toThrow(/config.json: expected a JSON object/);
  });
});
