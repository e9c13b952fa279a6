// Checks for the smallest kernels; `add` doubles as the harness's canary (if it fails, suspect the
// device, the pipeline cache or the transport before suspecting a big kernel).
import { grid, type GpuContext } from '../context';
import { readF32 } from '../readback';
import { uploadTensor } from '../tensor';
import { maxRelError, randomF32 } from '../testing';
import { result, type Check, type CheckResult } from './check';

const kWg = 256;
// words past `n` that the kernel must leave alone (its bounds guard)
const kTail = 64;
const kSentinel = 12345.5;

/** `x[i] += y[i]` in place, for ragged sizes and one size that needs a 2-D grid of workgroups. */
export const addCheck: Check = {
  id: 'add.f32',
  async run(ctx: GpuContext, rng: () => number): Promise<CheckResult[]> {
    const out: CheckResult[] = [];
    // 70_001 > 256 × 255 workgroups: with maxPerDim 255 below, the y dimension of the grid is exercised
    for (const [n, maxPerDim] of [
      [1, 65535],
      [255, 65535],
      [257, 65535],
      [70_001, 255],
    ]) {
      const a = randomF32(n, rng), b = randomF32(n, rng);
      const xHost = new Float32Array(n + kTail).fill(kSentinel);
      xHost.set(a);
      const x = uploadTensor(ctx.device, xHost, [n + kTail], 'f32', 'x'); // (n + tail) f32
      const y = uploadTensor(ctx.device, b, [n], 'f32', 'y'); // (n) f32
      const r = ctx.recorder('add check');
      r.dispatch('add', {
        constants: { WG: kWg },
        params: { n },
        // x is bound whole, so only the kernel's guard keeps the tail intact
        buffers: [x.buffer, y.buffer],
        workgroups: grid(Math.ceil(n / kWg), maxPerDim),
      });
      await r.flush();
      const got = await readF32(ctx.device, x.buffer, 0, n + kTail);
      x.buffer.destroy();
      y.buffer.destroy();
      const want = new Float64Array(n);
      for (let i = 0; i < n; i++) want[i] = a[i] + b[i];
      let err = maxRelError(got.subarray(0, n), want);
      // the sum of two f32 rounds once: relative error ≤ 2^-24; a write past n is a hard failure
      for (let i = n; i < n + kTail; i++) if (got[i] !== kSentinel) err = Infinity;
      out.push(result(`add f32 n=${n}${maxPerDim < 65535 ? ' 2-D grid' : ''}`, err, 1e-6));
    }
    return out;
  },
};

/** Every check of this module. */
export const basicChecks: Check[] = [addCheck];
