// Resolves --model (or the bundled default) and the engine options common to every subcommand.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { EngineOptions } from '../engine';
import { kKvDtypes, type KvDtype } from '../model/kv_cache';
import { kWeightStorages } from '../model/weights';
import { bytesFlag, countFlag, oneOf, UsageError } from './args';

/** The model bundled with the package (public/models/<name>), used when --model is omitted. */
export const kDefaultModelName = 'ruler-llama-tiny';

export function defaultModelPath(): string | undefined {
  for (const rel of ['../public/models/', '../../public/models/', '../../../public/models/']) {
    const p = fileURLToPath(new URL(rel + kDefaultModelName, import.meta.url));
    if (existsSync(p + '/config.json')) return p;
  }
  return undefined;
}

/**
 * The engine options of the model flags. `kvDefault`: the KV type when --kv-dtype is not given (the engine's
 * default, f16, unless the command needs another: `logits` keeps f32 for exact parity).
 */
export function engineOptions(v: Record<string, unknown>, onProgress?: EngineOptions['onProgress'], kvDefault?: KvDtype): EngineOptions {
  let model = v.model as string | undefined;
  if (!model) {
    model = defaultModelPath();
    if (!model) throw new UsageError(`no --model given and the bundled default (public/models/${kDefaultModelName}) is missing`);
  } else if (/^[./~]/.test(model) || existsSync(model)) {
    if (!existsSync(model)) throw new UsageError(`--model ${model}: no such folder`);
    if (!existsSync(`${model}/config.json`)) throw new UsageError(`--model ${model}: not a model folder (no config.json)`);
  }
  const adapter = v.adapter as string | undefined;
  return {
    model,
    storage: oneOf('storage', v.storage as string | undefined, kWeightStorages, 'f32'),
    maxContext: v['max-context'] === 'auto' ? 'auto' : countFlag('max-context', v['max-context'] as string | undefined),
    chunkRows: countFlag('chunk-rows', v['chunk-rows'] as string | undefined),
    kvDtype: v['kv-dtype'] === undefined ? kvDefault : oneOf('kv-dtype', v['kv-dtype'] as string, kKvDtypes, 'f16'),
    maxBindingBytes: bytesFlag('max-binding-bytes', v['max-binding-bytes'] as string | undefined),
    gpuMemoryBytes: bytesFlag('gpu-memory', v['gpu-memory'] as string | undefined),
    checkWeights: v['check-weights'] === true,
    quantizeEmbeddings: v['quantize-embeddings'] === true,
    adapter: adapter === undefined ? undefined : /^\d+$/.test(adapter) ? { adapterIndex: Number(adapter) } : { adapterName: adapter },
    onProgress,
  };
}
