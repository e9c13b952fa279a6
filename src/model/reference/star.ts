// Star Attention's two phases on the float64 CPU model, written from the paper, independently of src/star:
// every block after the first is encoded after the anchor (the context's first a tokens, at positions
// 0..a−1), the anchor's KV is dropped, and the query and generated tokens attend to every block's KV.
import { argmax, RefModel, type RefCache, type RefStoredRow } from '../reference';

export interface RefRun {
  /** Logits of the first generated position. */
  logits: Float64Array;
  /** Greedy tokens. */
  ids: number[];
}

/** Star Attention with block size b and anchor a (b ≥ ctx: global attention), then nGen greedy tokens. */
export function refStar(model: RefModel, contextIds: number[], queryIds: number[], b: number, a: number, nGen: number): RefRun {
  return refQuery(model, refPhase1(model, contextIds, b, a), contextIds.length, queryIds, nGen);
}

/** Phase 1: the context's KV as Star Attention leaves it (every block's rows, the anchor's copies dropped). */
export function refPhase1(model: RefModel, contextIds: number[], b: number, a: number): RefCache {
  const blocks: RefCache[] = [];
  for (let s = 0; s < contextIds.length; s += b) {
    const block = contextIds.slice(s, s + b);
    const cache = model.newCache();
    if (s > 0) contextIds.slice(0, a).forEach((id, i) => model.step(cache, id, i));
    block.forEach((id, i) => model.step(cache, id, s + i));
    blocks.push(s > 0 ? RefModel.slice(cache, a) : cache);
  }
  return blocks.length ? RefModel.concat(blocks) : model.newCache();
}

/**
 * Phase 2: the query over a context cache of ctxLen rows (appended to it), then nGen greedy tokens; `supplied`
 * gives cache rows in place of the reference's own (see RefModel.step).
 */
export function refQuery(model: RefModel, cache: RefCache, ctxLen: number, queryIds: number[], nGen: number, supplied?: RefStoredRow): RefRun {
  let logits!: Float64Array;
  queryIds.forEach((id, i) => (logits = model.step(cache, id, ctxLen + i, supplied)));
  const first = logits;
  const ids: number[] = [];
  for (let i = 0; i < nGen; i++) {
    ids.push(argmax(logits));
    if (i < nGen - 1) logits = model.step(cache, ids[i], ctxLen + queryIds.length + i, supplied);
  }
  return { logits: first, ids };
}
