// Flag parsing shared by every subcommand: strict (an unknown flag is an error), with one-line messages.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { StarConfigError, UsageError } from '../errors';
import { checkSizeSpec, type SizeSpec } from '../star/size';

export { UsageError };

type Options = NonNullable<ParseArgsConfig['options']>;

export function parse<O extends Options>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split('\n')[0]}\n${usage}`);
  }
}

export function intFlag(name: string, v: string | undefined, dflt?: number): number | undefined {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be an integer, got "${v}"`);
  return n;
}

/** An integer ≥ min (default 1), named in the error when it is not. */
export function countFlag(name: string, v: string | undefined, dflt?: number, min = 1): number | undefined {
  const n = intFlag(name, v, dflt);
  if (n !== undefined && n < min) throw new UsageError(`--${name} must be at least ${min}, got ${n}`);
  return n;
}

/** A Star size: tokens or an expression of L (see src/star/size.ts), checked here. */
export function sizeFlag(name: string, v: string | undefined): SizeSpec | undefined {
  if (v === undefined) return undefined;
  const spec: SizeSpec = /^\s*\d+\s*$/.test(v) ? Number(v) : v;
  try {
    checkSizeSpec(spec, `--${name}`);
  } catch (e) {
    if (e instanceof StarConfigError) throw new UsageError(e.message);
    throw e;
  }
  return spec;
}

const kUnits: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, ki: 2 ** 10, mi: 2 ** 20, gi: 2 ** 30, ti: 2 ** 40 };

/** A byte count: 4096, 64K, 1.5GB, 80GiB (K/M/G/T = powers of 1000, Ki/Mi/Gi/Ti = of 1024; B optional). */
export function bytesFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kmgt]i?)?b?\s*$/i.exec(v);
  const n = m ? Number(m[1]) * kUnits[(m[2] ?? '').toLowerCase()] : NaN;
  if (!Number.isFinite(n) || n < 1) throw new UsageError(`--${name} must be a byte count such as 4096, 64K or 80GiB, got "${v}"`);
  return Math.floor(n);
}

export function numFlag(name: string, v: string | undefined, dflt?: number): number | undefined {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${v}"`);
  return n;
}

export function oneOf<T extends string>(name: string, v: string | undefined, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (!allowed.includes(v as T)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
}

/** L in --block-size / --anchor-size, said the same way in every command's help. */
export const kSizeHelp = 'sizes are tokens or an expression of L, the length of the context Star splits: 2048, L/4, L*0.25, L';

/** Attention flags shared by generate, logits and ruler. */
export const kAttentionFlags = {
  attention: { type: 'string' },
  'block-size': { type: 'string' },
  'anchor-size': { type: 'string' },
  hosts: { type: 'string' },
  mode: { type: 'string' },
} as const;

export const kModelFlags = {
  model: { type: 'string', short: 'm' },
  storage: { type: 'string' },
  'max-context': { type: 'string' },
  'chunk-rows': { type: 'string' },
  adapter: { type: 'string' },
  'kv-dtype': { type: 'string' },
  'max-binding-bytes': { type: 'string' },
  'gpu-memory': { type: 'string' },
  'check-weights': { type: 'boolean' },
  'quantize-embeddings': { type: 'boolean' },
} as const;

/** The model flags in a usage line. */
export const kModelUsage =
  '[--storage f32|f16|bf16|q8_0|q4_0] [--kv-dtype f16|bf16|f32] [--max-context N|auto] [--chunk-rows N] [--max-binding-bytes B] [--gpu-memory B] [--adapter name|index] [--check-weights] [--quantize-embeddings]';

export function attentionFromFlags(v: Record<string, unknown>) {
  const attention = oneOf('attention', v.attention as string | undefined, ['global', 'star'] as const, 'global');
  const mode = oneOf('mode', v.mode as string | undefined, ['workers', 'single-device'] as const, 'single-device');
  const blockSize = sizeFlag('block-size', v['block-size'] as string | undefined);
  if (attention === 'star' && blockSize === undefined) throw new UsageError('--attention star needs --block-size (tokens, or L/<n>)');
  return {
    attention,
    mode,
    blockSize,
    anchorSize: sizeFlag('anchor-size', v['anchor-size'] as string | undefined),
    hosts: countFlag('hosts', v.hosts as string | undefined, 1),
  };
}
