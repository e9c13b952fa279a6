// Reads a `kernels.mjs --gemv-only` result and prints the GEMV variants that win with robust buffer access on
// (what browsers give), as environment assignments for the next benchmark in the same GPU-machine session:
//   eval "$(node scripts/bench/gemv_pick.mjs gemv_variants.json)"   # sets STAR_ATTN_GEMV and STAR_ATTN_GEMV_Q
// A variant wins on the sum of its median times over every (dtype, shape) it ran; a variant more than 1e-5
// (relative to the largest output) from `base` on some row, or missing a row the others ran, cannot win.
import { readFileSync } from 'node:fs';

// the GEMV variants' rows (gemv_sweep.ts also writes the fused decode kernels' rows, variants 'fused…')
const rows = JSON.parse(readFileSync(process.argv[2], 'utf8')).rows.filter((r) => !r.variant.startsWith('fused'));

function pick(dtypes) {
  const mine = rows.filter((r) => r.robust && dtypes.includes(r.dtype));
  const cells = new Set(mine.map((r) => `${r.dtype} ${r.shape}`));
  const total = new Map();
  for (const r of mine) {
    const t = total.get(r.variant) ?? { ms: 0, n: 0, exact: true };
    t.ms += r.ms; t.n += 1; t.exact &&= r.diff === '=' || Number(r.diff) <= 1e-5;
    total.set(r.variant, t);
  }
  const ok = [...total].filter(([, t]) => t.exact && t.n === cells.size).sort((a, b) => a[1].ms - b[1].ms);
  for (const [v, t] of ok) console.error(`${dtypes.join('/')} ${v}: ${t.ms.toFixed(3)} ms over ${t.n} rows`);
  // the opt-in 8-bit activation variants (qi8*) land here: reported, never picked
  for (const [v, t] of total) if (!t.exact) console.error(`${dtypes.join('/')} ${v}: ${t.ms.toFixed(3)} ms over ${t.n} rows (not exact: cannot win)`);
  return ok[0]?.[0];
}
const d = pick(['f32', 'bf16x2']);
const q = pick(['q8_0', 'q4_0']);
if (d) console.log(`export STAR_ATTN_GEMV=${d}`);
if (q) console.log(`export STAR_ATTN_GEMV_Q=${q}`);
