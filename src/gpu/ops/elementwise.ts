// Elementwise f32 ops: the SwiGLU gate and the residual add.
import { grid, type Recorder } from '../context';
import { dummyBuffer, elementWindow, expectCount } from './binding';

export interface SiluMulArgs {
  /** (n) f32 from `gateOffset`. */
  gate: GPUBuffer;
  gateOffset?: number;
  /** (n) f32 from `upOffset`; must not overlap `out`. */
  up: GPUBuffer;
  upOffset?: number;
  /** (n) f32 from `outOffset`; may be exactly the gate (same buffer and offset: in place), else must not overlap it. */
  out: GPUBuffer;
  outOffset?: number;
  n: number;
}

const kWG = 256;

/** Records out = silu(gate) · up with silu(g) = g / (1 + e^−g). */
export function siluMul(r: Recorder, a: SiluMulArgs): void {
  expectCount(a.n, 'siluMul n');
  const ctx = r.ctx;
  const gate = elementWindow(a.gate, a.gateOffset ?? 0, a.n, 'siluMul gate');
  const up = elementWindow(a.up, a.upOffset ?? 0, a.n, 'siluMul up');
  const inPlace = a.out === a.gate && (a.outOffset ?? 0) === (a.gateOffset ?? 0);
  const out = inPlace ? { binding: dummyBuffer(ctx.device), base: 0 } : elementWindow(a.out, a.outOffset ?? 0, a.n, 'siluMul out');
  r.dispatch('silu_mul', {
    constants: { WG: kWG },
    params: { n: a.n, gateBase: gate.base, upBase: up.base, outBase: out.base, inPlace: inPlace ? 1 : 0 },
    buffers: [gate.binding, up.binding, out.binding],
    workgroups: grid(Math.ceil(a.n / kWG), ctx.maxWorkgroupsPerDim),
    label: `silu_mul ${a.n}`,
  });
}

export interface AddArgs {
  /** (n) f32, updated in place. */
  x: GPUBuffer;
  /** (n) f32. */
  y: GPUBuffer;
  n: number;
}

/** Records x += y (the residual add, when it is not fused into a matmul). */
export function add(r: Recorder, a: AddArgs): void {
  expectCount(a.n, 'add n');
  if (a.x.size < a.n * 4 || a.y.size < a.n * 4) throw new RangeError(`add: buffers shorter than ${a.n} elements`);
  r.dispatch('add', {
    constants: { WG: kWG },
    params: { n: a.n },
    buffers: [a.x, a.y],
    workgroups: grid(Math.ceil(a.n / kWG), r.ctx.maxWorkgroupsPerDim),
    label: `add ${a.n}`,
  });
}
