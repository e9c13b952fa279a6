// A kernel check runs real kernels on fresh random inputs, with NaN-poisoned outputs, against a float64
// CPU reference. The same checks run under Vitest in Node (Dawn) and in the e2e page and its worker.
import type { GpuContext } from '../context';

export interface CheckResult {
  /** e.g. "matmul f32 gemm M=37 N=65 K=129" */
  name: string;
  /** Worst relative error observed (Infinity when a NaN survived). */
  maxError: number;
  /** The bound this check promises. */
  bound: number;
  ok: boolean;
}

export interface Check {
  /** Stable id, e.g. "matmul.f32.gemm". */
  id: string;
  run(ctx: GpuContext, rng: () => number): Promise<CheckResult[]>;
}

export function result(name: string, maxError: number, bound: number): CheckResult {
  return { name, maxError, bound, ok: maxError <= bound };
}
