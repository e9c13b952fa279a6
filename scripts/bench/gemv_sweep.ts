// The decode GEMV's variants (src/gpu/ops/gemv.ts) side by side: every variant × weight type × decode shape, in
// GB/s of the weight bytes as stored (packed blocks and scales for q8_0/q4_0), on one device. Weights are
// rotated through enough copies (≥ 512 MiB in all) that no repetition finds them in the H200's 50 MB L2, as
// a decode step would not. Each variant's output on copy 0 is compared with `base`'s: `=` bit-identical, else
// the largest difference relative to the largest |output|. `fusedSweep` does the same for the fused decode
// kernels (decode_qkv, decode_gate_up) with scalar and 16-byte loads, and for q8_0 / q4_0 weights
// (decode_qkv_q, decode_gate_up_q) with 1, 2 and 4 rows per thread. Used by kernels.ts --gemv-only.
import type { GpuContext, Recorder } from '../../src/gpu/context';
import type { KvPages } from '../../src/gpu/ops/attention';
import { decodeGateUp, decodeGateUpQuantNr, decodeQkv, decodeQkvQuantNr } from '../../src/gpu/ops/decode';
import { kGemvQVariants, kGemvVariants, type GemvQVariant, type GemvVariant } from '../../src/gpu/ops/gemv';
import { matmul } from '../../src/gpu/ops/matmul';
import { fillRandom } from '../../src/gpu/ops/random';
import { readU32 } from '../../src/gpu/readback';
import { byteSize, createTensor, type Tensor } from '../../src/gpu/tensor';
import { timeGpu } from '../../src/gpu/timer';

export type GemvDType = 'f32' | 'bf16x2' | 'f16x2' | 'q8_0' | 'q4_0';

/** N × K of the decode GEMVs measured: Llama-3.2-1B and Llama-3.1-8B layers, the 1B LM head. */
export const kGemvShapes: Array<{ N: number; K: number; what: string }> = [
  { N: 2048, K: 2048, what: '1B q/o' },
  { N: 8192, K: 2048, what: '1B gate/up' },
  { N: 2048, K: 8192, what: '1B down' },
  { N: 4096, K: 4096, what: '8B q/o' },
  { N: 14336, K: 4096, what: '8B gate/up' },
  { N: 4096, K: 14336, what: '8B down' },
  { N: 128256, K: 2048, what: '1B LM head' },
];

/** HBM bandwidth of the H200 (datasheet), for the % column. */
export const kHbmGBps = 4800;

export interface GemvRow {
  robust: boolean;
  dtype: GemvDType;
  shape: string;
  what: string;
  variant: string;
  ms: number;
  msMin: number;
  gbps: number;
  copies: number;
  reps: number;
  /** '=' bit-identical to base, else max |out − base| / max |base| */
  diff: string;
  timing: string;
  /** 'independent': each repetition wrote its own output (see GemvSweepOptions) */
  chain?: 'dependent' | 'independent';
}

export interface GemvSweepOptions {
  robust: boolean;
  dtypes: GemvDType[];
  shapes: typeof kGemvShapes;
  /** indices into kFusedShapes for fusedSweep; undefined: all */
  fusedShapes?: number[];
  /** variant names to run (base always runs first); undefined: all */
  variants?: string[];
  trials: number;
  /**
   * Each repetition writes its own output (one per weight copy), so no two consecutive GEMVs write one buffer and
   * nothing orders them but Dawn's own pass rules. Default false: every repetition writes one output, as a
   * decode step's dependent GEMVs do. On the H200 (session 12) both cost the same to 0.1 µs: the ~7-µs floor of
   * a small GEMV is not the write-after-write barrier.
   */
  independent?: boolean;
  /** MiB the rotated weight copies fill at least (default 512; less only for smoke tests off the H200) */
  rotateMiB?: number;
  /** timed repetitions per variant: at least this many (default 8) */
  minReps?: number;
  log: (line: string) => void;
}

const isQuant = (d: GemvDType) => d === 'q8_0' || d === 'q4_0';

/** Runs the sweep on one device; returns a row per (dtype, shape, variant). */
export async function gemvSweep(ctx: GpuContext, o: GemvSweepOptions): Promise<GemvRow[]> {
  const d = ctx.device;
  const rows: GemvRow[] = [];
  for (const dtype of o.dtypes) {
    const table = isQuant(dtype) ? kGemvQVariants : kGemvVariants;
    const names = (Object.keys(table) as string[]).filter((v) => v === 'base' || !o.variants || o.variants.includes(v));
    for (const { N, K, what } of o.shapes) {
      const shape = `1x${N}x${K}`;
      const probe = createTensor(d, [N, K], dtype, 'w probe');
      const bytes = probe.buffer.size;
      probe.buffer.destroy();
      const copies = Math.min(128, Math.max(1, Math.ceil(((o.rotateMiB ?? 512) * 2 ** 20) / bytes)));
      const reps = o.minReps !== undefined ? Math.max(copies, o.minReps) : Math.max(copies, Math.min(256, Math.ceil(2 ** 30 / bytes)), 8);
      const fill = (shape: number[], dt: GemvDType, seed: number, label: string): Tensor => {
        const t = createTensor(d, shape, dt, label);
        const r = ctx.recorder();
        fillRandom(r, { t, seed, scale: 1 / Math.sqrt(K) });
        r.submit();
        return t;
      };
      const x = fill([1, K], 'f32', 3, 'x');
      const ws = Array.from({ length: copies }, (_, i) => fill([N, K], dtype, 100 + i, `w${i}`));
      const outs = Array.from({ length: o.independent ? copies : 1 }, (_, i) => createTensor(d, [1, N], 'f32', `out${i}`));
      const out = outs[0];
      const run = (variant: string, i: number) => (r: Parameters<typeof matmul>[0]) =>
        matmul(r, { x: x.buffer, w: ws[i % copies], out: outs[i % outs.length].buffer, M: 1, N, K }, 'gemv', variant as GemvVariant | GemvQVariant);
      // outputs on copy 0, against base's
      const outputs = new Map<string, Float32Array>();
      for (const v of names) {
        const r = ctx.recorder();
        run(v, 0)(r);
        await r.flush();
        outputs.set(v, new Float32Array((await readU32(d, out.buffer)).buffer));
      }
      const ref = outputs.get('base')!;
      let refMax = 0;
      for (const v of ref) refMax = Math.max(refMax, Math.abs(v));
      const times = new Map<string, number[]>(names.map((v) => [v, []]));
      let source = '';
      for (let t = 0; t < o.trials; t++) {
        for (const v of names) {
          let i = 0;
          const timing = await timeGpu(ctx, (r) => run(v, i++)(r), reps, 2);
          times.get(v)!.push(timing.ms);
          source = timing.source;
        }
      }
      for (const v of names) {
        const got = outputs.get(v)!;
        let same = true, worst = 0;
        for (let j = 0; j < N; j++) {
          if (Object.is(got[j], ref[j])) continue;
          same = false;
          const e = Math.abs(got[j] - ref[j]);
          worst = Number.isNaN(e) ? Infinity : Math.max(worst, e);
        }
        const ts = [...times.get(v)!].sort((a, b) => a - b);
        const ms = ts[Math.floor(ts.length / 2)];
        const row: GemvRow = {
          robust: o.robust, dtype, shape, what, variant: v, ms, msMin: ts[0], gbps: bytes / ms / 1e6, copies, reps,
          diff: same ? '=' : (worst / Math.max(refMax, 1e-30)).toExponential(1), timing: source,
          chain: o.independent ? 'independent' : 'dependent',
        };
        rows.push(row);
        o.log(
          `${o.robust ? 'robust' : 'norobust'} ${dtype.padEnd(6)} ${shape.padEnd(14)} ${what.padEnd(11)} ${v.padEnd(9)} ` +
            `${ms.toFixed(4).padStart(8)} ms ${row.gbps.toFixed(0).padStart(6)} GB/s ${((100 * row.gbps) / kHbmGBps).toFixed(0).padStart(3)}%  ${row.diff}`,
        );
      }
      for (const t of [x, ...outs, ...ws]) t.buffer.destroy();
    }
  }
  return rows;
}

/** Markdown: per (robustness, dtype) a row per variant, GB/s per shape, the best of each column in bold. */
export function gemvTable(rows: GemvRow[]): string {
  const lines: string[] = [];
  const groups = new Map<string, GemvRow[]>();
  for (const r of rows) {
    const k = `${r.robust ? 'robustness on' : 'robustness off'}, ${r.dtype}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(r);
  }
  for (const [k, g] of groups) {
    const shapes = [...new Set(g.map((r) => r.shape))];
    const variants = [...new Set(g.map((r) => r.variant))];
    lines.push('', `GEMV GB/s, ${k} (geomean: over the shapes; % of ${kHbmGBps} GB/s)`, '');
    lines.push(`| variant | ${shapes.map((s) => `${s} ${g.find((r) => r.shape === s)!.what}`.trim()).join(' | ')} | geomean |`);
    lines.push(`|---|${shapes.map(() => '---|').join('')}---|`);
    const best = new Map(shapes.map((s) => [s, Math.max(...g.filter((r) => r.shape === s).map((r) => r.gbps))]));
    for (const v of variants) {
      const cells = shapes.map((s) => {
        const r = g.find((x) => x.shape === s && x.variant === v);
        if (!r) return '–';
        const txt = `${r.gbps.toFixed(0)}${r.diff === '=' ? '' : ` (${r.diff})`}`;
        return r.gbps === best.get(s) ? `**${txt}**` : txt;
      });
      const vs = g.filter((r) => r.variant === v).map((r) => r.gbps);
      const gm = Math.exp(vs.reduce((a, b) => a + Math.log(b), 0) / vs.length);
      lines.push(`| ${v} | ${cells.join(' | ')} | ${gm.toFixed(0)} (${((100 * gm) / kHbmGBps).toFixed(0)}%) |`);
    }
  }
  return lines.join('\n');
}

/** The fused decode kernels' layer shapes: Llama-3.2-1B (32/8 heads of 64) and Llama-3.1-8B (32/8 of 128). */
export const kFusedShapes = [
  { what: '1B', dim: 2048, hiddenDim: 8192, nHeads: 32, nKvHeads: 8, headSize: 64 },
  { what: '8B', dim: 4096, hiddenDim: 14336, nHeads: 32, nKvHeads: 8, headSize: 128 },
];

/**
 * decode_qkv and decode_gate_up (one row, f32 KV) with scalar loads and with 16-byte loads (`vec4`), in GB/s of
 * the weight bytes they read; rows in the GemvRow format (variant 'fused' / 'fused-v4', shape 'qkv …' /
 * 'gate_up …'), diff against the first variant's output. q8_0 / q4_0: decode_qkv_q and decode_gate_up_q with
 * each count of rows per thread that fits (variants 'fused-q nr1', 'nr2', 'nr4'; all bit-identical to the
 * qv4 GEMVs), GB/s of the packed blocks and scales.
 */
export async function fusedSweep(ctx: GpuContext, o: GemvSweepOptions): Promise<GemvRow[]> {
  const d = ctx.device;
  const rows: GemvRow[] = [];
  for (const dtype of o.dtypes) {
    for (const s of o.fusedShapes ? o.fusedShapes.map((i) => kFusedShapes[i]) : kFusedShapes) {
      const qDim = s.nHeads * s.headSize, kvDim = s.nKvHeads * s.headSize;
      const fill = (shape: number[], dt: GemvDType, seed: number, label: string): Tensor => {
        const t = createTensor(d, shape, dt, label);
        const r = ctx.recorder();
        fillRandom(r, { t, seed, scale: 1 / Math.sqrt(s.dim) });
        r.submit();
        return t;
      };
      const layerBytes = byteSize([2 * s.hiddenDim + qDim + 2 * kvDim, s.dim], dtype);
      const copies = Math.min(16, Math.max(1, Math.ceil(((o.rotateMiB ?? 512) * 2 ** 20) / layerBytes)));
      const x = fill([1, s.dim], 'f32', 1, 'x');
      const norm = fill([s.dim], 'f32', 2, 'norm');
      const table = fill([64, s.headSize], 'f32', 3, 'rope');
      const layers = Array.from({ length: copies }, (_, i) => ({
        wq: fill([qDim, s.dim], dtype, 10 + 7 * i, 'wq'),
        wk: fill([kvDim, s.dim], dtype, 11 + 7 * i, 'wk'),
        wv: fill([kvDim, s.dim], dtype, 12 + 7 * i, 'wv'),
        wGate: fill([s.hiddenDim, s.dim], dtype, 13 + 7 * i, 'wGate'),
        wUp: fill([s.hiddenDim, s.dim], dtype, 14 + 7 * i, 'wUp'),
      }));
      const q = createTensor(d, [1, qDim], 'f32', 'q');
      const kc = createTensor(d, [8, kvDim], 'f32', 'K'), vc = createTensor(d, [8, kvDim], 'f32', 'V');
      const hb = createTensor(d, [1, s.hiddenDim], 'f32', 'hb');
      const kv = (t: Tensor): KvPages => ({ pages: [t.buffer], pageRows: 8, dtype: 'f32' });
      // what a variant sets: 16-byte loads (f32 / 16-bit) or rows per thread (q8_0 / q4_0)
      type Variant = { name: string; vec4?: boolean; nr?: number };
      const dense: Variant[] = [{ name: 'fused', vec4: false }, { name: 'fused-v4', vec4: true }];
      const quantVariants = (fit: (nr: number) => number): Variant[] =>
        [1, 2, 4].filter((nr) => fit(nr) === nr).map((nr) => ({ name: `fused-q nr${nr}`, nr }));
      const kernels = {
        qkv: {
          bytes: layers[0].wq.buffer.size + 2 * layers[0].wk.buffer.size,
          out: q,
          variants: isQuant(dtype) ? quantVariants((nr) => decodeQkvQuantNr(s.dim, s.headSize, qDim + 2 * kvDim, nr)) : dense,
          run: (v: Variant, i: number) => (r: Recorder) => {
            const l = layers[i % copies];
            decodeQkv(r, {
              x: x.buffer, norm, eps: 1e-5, wq: l.wq, wk: l.wk, wv: l.wv, ropeTable: table, q: q.buffer, k: kv(kc), v: kv(vc),
              cacheRow: 3, position0: 17, rows: 1, dim: s.dim, nHeads: s.nHeads, nKvHeads: s.nKvHeads, headSize: s.headSize, vec4: v.vec4, nr: v.nr,
            });
          },
        },
        gate_up: {
          bytes: 2 * layers[0].wGate.buffer.size,
          out: hb,
          variants: isQuant(dtype) ? quantVariants((nr) => decodeGateUpQuantNr(s.dim, nr)) : dense,
          run: (v: Variant, i: number) => (r: Recorder) => {
            const l = layers[i % copies];
            decodeGateUp(r, { x: x.buffer, norm, eps: 1e-5, wGate: l.wGate, wUp: l.wUp, out: hb.buffer, rows: 1, dim: s.dim, hiddenDim: s.hiddenDim, vec4: v.vec4, nr: v.nr });
          },
        },
      };
      for (const [kname, k] of Object.entries(kernels)) {
        const reps = o.minReps !== undefined ? Math.max(copies, o.minReps) : Math.max(copies, Math.min(256, Math.ceil(2 ** 30 / k.bytes)), 8);
        const outputs: Float32Array[] = [];
        for (const v of k.variants) {
          const r = ctx.recorder();
          k.run(v, 0)(r);
          await r.flush();
          outputs.push(new Float32Array((await readU32(d, k.out.buffer)).buffer));
        }
        const times: number[][] = k.variants.map(() => []);
        let source = '';
        for (let t = 0; t < o.trials; t++) {
          for (const [vi, v] of k.variants.entries()) {
            let i = 0;
            const timing = await timeGpu(ctx, (r) => k.run(v, i++)(r), reps, 2);
            times[vi].push(timing.ms);
            source = timing.source;
          }
        }
        for (const [vi, v] of k.variants.entries()) {
          const same = outputs[0].every((x, j) => Object.is(x, outputs[vi][j]));
          const ts = [...times[vi]].sort((a, b) => a - b);
          const ms = ts[Math.floor(ts.length / 2)];
          const row: GemvRow = {
            robust: o.robust, dtype, shape: `${kname} ${s.what}`, what: '', variant: v.name, ms, msMin: ts[0],
            gbps: k.bytes / ms / 1e6, copies, reps, diff: same ? '=' : 'DIFFERS', timing: source,
          };
          rows.push(row);
          o.log(
            `${o.robust ? 'robust' : 'norobust'} ${dtype.padEnd(6)} ${row.shape.padEnd(14)} ${row.variant.padEnd(21)} ` +
              `${ms.toFixed(4).padStart(8)} ms ${row.gbps.toFixed(0).padStart(6)} GB/s ${((100 * row.gbps) / kHbmGBps).toFixed(0).padStart(3)}%  ${row.diff}`,
          );
        }
      }
      for (const l of layers) for (const t of Object.values(l)) t.buffer.destroy();
      for (const t of [x, norm, table, q, kc, vc, hb]) t.buffer.destroy();
    }
  }
  return rows;
}
