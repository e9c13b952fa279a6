// Which tensors a checkpoint of each supported architecture must hold, with their shapes (HF Linear
// layout: (out, in)), and an upfront check that names every missing or misshapen tensor at once.
import { ModelConfigError, ModelFormatError } from '../errors';
import type { ModelConfig } from './config';
import { kTensorDtypes, type TensorEntry } from './safetensors';

export interface ExpectedTensor {
  name: string;
  shape: number[];
}

/** Every tensor the forward pass reads, for llama / qwen2 / mistral (they share Llama's names). */
export function expectedTensors(cfg: ModelConfig): ExpectedTensor[] {
  const { dim, qDim, kvDim, hiddenDim, vocabSize } = cfg;
  const out: ExpectedTensor[] = [{ name: 'model.embed_tokens.weight', shape: [vocabSize, dim] }];
  for (let l = 0; l < cfg.nLayers; l++) {
    const p = `model.layers.${l}.`;
    out.push(
      { name: p + 'input_layernorm.weight', shape: [dim] },
      { name: p + 'self_attn.q_proj.weight', shape: [qDim, dim] },
      { name: p + 'self_attn.k_proj.weight', shape: [kvDim, dim] },
      { name: p + 'self_attn.v_proj.weight', shape: [kvDim, dim] },
    );
    if (cfg.qkvBias) {
      out.push(
        { name: p + 'self_attn.q_proj.bias', shape: [qDim] },
        { name: p + 'self_attn.k_proj.bias', shape: [kvDim] },
        { name: p + 'self_attn.v_proj.bias', shape: [kvDim] },
      );
    }
    out.push(
      { name: p + 'self_attn.o_proj.weight', shape: [dim, qDim] },
      { name: p + 'post_attention_layernorm.weight', shape: [dim] },
      { name: p + 'mlp.gate_proj.weight', shape: [hiddenDim, dim] },
      { name: p + 'mlp.up_proj.weight', shape: [hiddenDim, dim] },
      { name: p + 'mlp.down_proj.weight', shape: [dim, hiddenDim] },
    );
  }
  out.push({ name: 'model.norm.weight', shape: [dim] });
  if (!cfg.tieEmbeddings) out.push({ name: 'lm_head.weight', shape: [vocabSize, dim] });
  return out;
}

/**
 * Throws one error listing every expected tensor that is missing, misshapen or of an unsupported dtype
 * (at most 20 lines, then a count), so a wrong checkpoint fails before anything is uploaded.
 */
export function checkTensors(cfg: ModelConfig, entries: Map<string, TensorEntry>, where = 'checkpoint'): void {
  checkConfigFitsCheckpoint(cfg, entries, where);
  const problems: string[] = [];
  for (const t of expectedTensors(cfg)) {
    const e = entries.get(t.name);
    if (!e) {
      problems.push(`missing "${t.name}" (expected [${t.shape}])`);
    } else if (e.shape.length !== t.shape.length || e.shape.some((d, i) => d !== t.shape[i])) {
      problems.push(`"${t.name}" has shape [${e.shape}], expected [${t.shape}] from config.json`);
    } else if (!(kTensorDtypes as readonly string[]).includes(e.dtype)) {
      problems.push(`"${t.name}" has dtype ${e.dtype}; supported: ${kTensorDtypes.join(', ')}`);
    }
  }
  if (problems.length) {
    const shown = problems.slice(0, 20);
    if (problems.length > shown.length) shown.push(`… and ${problems.length - shown.length} more`);
    throw new ModelFormatError(`${where} does not fit config.json (${cfg.arch}, ${cfg.nLayers} layers):\n  ${shown.join('\n  ')}`);
  }
}

/**
 * Checks config.json's sizes against what the checkpoint holds, in time and memory proportional to the
 * checkpoint (never to the config): the layer count against the layers present, hidden_size and vocab_size
 * against the embedding's shape. Each error names the field, its value and what the checkpoint holds.
 */
export function checkConfigFitsCheckpoint(cfg: ModelConfig, entries: Map<string, TensorEntry>, where = 'checkpoint'): void {
  const layers = new Set<number>();
  for (const name of entries.keys()) {
    const m = /^model\.layers\.(\d+)\./.exec(name);
    if (m) layers.add(Number(m[1]));
  }
  let present = 0;
  while (layers.has(present)) present++;
  if (cfg.nLayers > present) {
    throw new ModelConfigError(
      `config.json: "num_hidden_layers" is ${cfg.nLayers}, but ${where} holds ${present ? `layers 0–${present - 1} only` : 'no model.layers.0'} (limit ${present})`,
    );
  }
  if (layers.size > cfg.nLayers) {
    const extra = [...layers].filter((l) => l >= cfg.nLayers).sort((a, b) => a - b);
    throw new ModelConfigError(
      `config.json: "num_hidden_layers" is ${cfg.nLayers}, but ${where} also holds model.layers.${extra[0]}${extra.length > 1 ? ` (and ${extra.length - 1} more)` : ''}: a truncated config?`,
    );
  }
  const embed = entries.get('model.embed_tokens.weight');
  if (embed?.shape.length === 2) {
    const [rows, cols] = embed.shape;
    if (cfg.vocabSize !== rows) {
      throw new ModelConfigError(`config.json: "vocab_size" is ${cfg.vocabSize}, but model.embed_tokens.weight in ${where} has ${rows} rows`);
    }
    if (cfg.dim !== cols) {
      throw new ModelConfigError(`config.json: "hidden_size" is ${cfg.dim}, but model.embed_tokens.weight in ${where} has ${cols} columns`);
    }
  }
}
