// A model's identity for result files: a local folder is named by a hash of what decides its outputs
// (config, tokenizer, weights), so retrained weights under the same path are a different model; a Hub
// id or URL is taken as given.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

const kFiles = /^(config\.json|tokenizer\.json|tokenizer_config\.json|.*\.safetensors)$/;

export async function modelIdentity(model: string): Promise<string> {
  if (!existsSync(model) || !statSync(model).isDirectory()) return model;
  const hash = createHash('sha256');
  for (const f of readdirSync(model).filter((f) => kFiles.test(f)).sort()) {
    hash.update(`${f}\0`);
    for await (const chunk of createReadStream(join(model, f))) hash.update(chunk as Buffer);
  }
  return `${basename(model)}@sha256:${hash.digest('hex').slice(0, 12)}`;
}
