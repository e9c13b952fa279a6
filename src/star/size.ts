// The one parser of Star Attention sizes (`blockSize`, `anchorSize`, `--block-size`, `--anchor-size`), for
// the API, the CLI, the page and RULER alike. A size is a token count or an expression of L:
//   2048        tokens
//   L           the whole length
//   L/4         a quarter of it (floored)
//   L*0.25      the same, as a factor (floored)
// L is the length of the context Star Attention splits (the tokens before the query). RULER resolves
// its configurations against its own task length and hands the engine plain token counts.
import { StarConfigError } from '../errors';

/** A size as given: tokens, or an expression of L (`L`, `L/4`, `L*0.25`, `"2048"`). */
export type SizeSpec = number | string;

const kForms = 'a token count, L, L/<n> or L*<f>';

/** Checks a size's form without resolving it (flags are checked where they are parsed). */
export function checkSizeSpec(spec: SizeSpec, what = 'size'): void {
  resolveSize(spec, 1 << 30, what);
}

/**
 * Resolves `spec` for a length L; `what` names the setting in errors (e.g. "blockSize"). The result is
 * a whole number of tokens ≥ 1, or a StarConfigError saying why not.
 */
export function resolveSize(spec: SizeSpec, length: number, what = 'size'): number {
  let v: number;
  if (typeof spec === 'number') {
    if (!Number.isInteger(spec) || spec < 1) throw new StarConfigError(`${what} must be a positive integer, got ${spec}`);
    return spec;
  }
  const s = String(spec).replace(/\s+/g, '');
  const m = /^L(?:([/*])(\d+(?:\.\d+)?))?$/i.exec(s);
  if (m) {
    const n = m[2] === undefined ? 1 : Number(m[2]);
    if (m[1] === '/' && !(n > 0)) throw new StarConfigError(`${what} "${spec}" divides by zero`);
    v = Math.floor(m[1] === '/' ? length / n : length * n);
  } else if (/^\d+$/.test(s)) {
    v = Number(s);
  } else {
    throw new StarConfigError(`${what} "${spec}" is neither a token count nor an expression of L: use ${kForms}`);
  }
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new StarConfigError(`${what} "${spec}" is ${v} tokens for L = ${length}; it must be at least 1`);
  }
  return v;
}
