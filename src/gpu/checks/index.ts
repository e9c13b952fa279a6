// The registry of kernel checks and the one runner used by Vitest (Node), the e2e page and its worker.
// Add a module's checks to `allChecks`; nothing else needs to change for them to run everywhere.
import type { GpuContext } from '../context';
import { attentionChecks } from './attention';
import { basicChecks } from './basic';
import { decodeChecks } from './decode';
import type { Check, CheckResult } from './check';
import { kvStoreChecks } from './kv_store';
import { linearChecks } from './linear';

export type { Check, CheckResult } from './check';

/** Every kernel check, in the order they run. */
export const allChecks: Check[] = [...basicChecks, ...linearChecks, ...kvStoreChecks, ...attentionChecks, ...decodeChecks];

/**
 * Which checks to run: a predicate on the id, or a comma-separated list of id prefixes
 * (`"matmul,attention.decode"`); empty or undefined selects all.
 */
export type CheckFilter = string | ((id: string) => boolean);

/** Called after each check with its results (for progress display). */
export type CheckProgress = (id: string, results: CheckResult[], ms: number) => void;

/** The checks `filter` selects, in order. */
export function selectChecks(checks: Check[], filter?: CheckFilter): Check[] {
  if (filter === undefined || filter === '') return checks;
  if (typeof filter === 'function') return checks.filter((c) => filter(c.id));
  const prefixes = filter.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return checks.filter((c) => prefixes.some((p) => c.id.startsWith(p)));
}

/**
 * Runs the selected checks one after another and returns all their results.
 * A check that throws, or raises a GPU error inside it, gets a failed result named after it, so one
 * broken kernel does not hide the others; once the device itself has failed (lost, or an error that
 * escaped the check's error scopes), the remaining checks are reported as one skipped failure, since
 * every later result would be the same error. Throws when the filter selects nothing, so a typo in a
 * filter fails loudly instead of passing vacuously.
 */
export async function runChecks(
  ctx: GpuContext,
  checks: Check[],
  rng: () => number,
  filter?: CheckFilter,
  onCheck?: CheckProgress,
): Promise<CheckResult[]> {
  const ids = new Set<string>();
  for (const c of checks) {
    if (ids.has(c.id)) throw new Error(`duplicate check id "${c.id}"`);
    ids.add(c.id);
  }
  const selected = selectChecks(checks, filter);
  if (selected.length === 0) {
    throw new Error(`no checks match filter "${String(filter)}" (ids: ${[...ids].join(', ')})`);
  }
  const out: CheckResult[] = [];
  const device = ctx.device;
  for (let i = 0; i < selected.length; i++) {
    const c = selected[i];
    const t0 = performance.now();
    let results: CheckResult[] = [];
    // error scopes pin a GPU error on the check that caused it, and keep the device usable for the rest
    for (const f of kErrorFilters) device.pushErrorScope(f);
    try {
      results = await c.run(ctx, rng);
      if (results.length === 0) results = [failed(`${c.id}: returned no results`)];
    } catch (e) {
      results = [failed(`${c.id}: threw ${describeError(e)}`)];
    } finally {
      for (let k = 0; k < kErrorFilters.length; k++) {
        const err = await device.popErrorScope();
        if (err) results.push(failed(`${c.id}: GPU error: ${err.message}`));
      }
    }
    // errors that escape scopes (device loss, pipeline failures the context re-raises) arrive as events
    await new Promise((r) => setTimeout(r, 0));
    let deviceFailed = false;
    try {
      ctx.handle.check();
    } catch (e) {
      deviceFailed = true;
      if (!results.some((r) => !r.ok && r.name.includes(describeError(e)))) results.push(failed(`${c.id}: ${describeError(e)}`));
    }
    out.push(...results);
    onCheck?.(c.id, results, performance.now() - t0);
    if (deviceFailed) {
      // handle.check() keeps throwing its first error: every later check would report the same thing
      const rest = selected.slice(i + 1).map((s) => s.id);
      if (rest.length > 0) out.push(failed(`skipped after device failure: ${rest.join(', ')}`));
      break;
    }
  }
  return out;
}

const kErrorFilters: GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];

function failed(name: string): CheckResult {
  return { name, maxError: Infinity, bound: 0, ok: false };
}

function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}
