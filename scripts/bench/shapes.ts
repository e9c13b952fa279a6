// Model shapes the benchmarks build with random weights (nothing downloaded), as HF config.json objects.

export const kLlama32_1B = {
  architectures: ['LlamaForCausalLM'],
  hidden_size: 2048,
  intermediate_size: 8192,
  num_hidden_layers: 16,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  head_dim: 64,
  vocab_size: 128256,
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
  tie_word_embeddings: true,
  hidden_act: 'silu',
  bos_token_id: 128000,
  eos_token_id: 128001,
};

/** Llama-3.1-8B's shape (untied embeddings, 128-wide heads). */
export const kLlama31_8B = {
  ...kLlama32_1B,
  hidden_size: 4096,
  intermediate_size: 14336,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  head_dim: 128,
  rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
  tie_word_embeddings: false,
};

/** A small shape for trying a benchmark on SwiftShader. */
export const kTiny = {
  ...kLlama32_1B,
  hidden_size: 128,
  intermediate_size: 256,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 32,
  vocab_size: 1024,
};
