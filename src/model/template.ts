// Chat templates (@huggingface/jinja) run under a budget. A template is code from the model's files: one
// looping over range(100000000) would otherwise build a 10^8-element list and run for minutes before
// memory runs out. Here every evaluation and every loop iteration is a step, range() is capped and counts
// its items as steps, every value produced is checked against a size cap, the total output is capped, and
// a wall-clock limit backs it all up. Anything thrown inside the template becomes a TokenizerError.
import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { StarAttentionError, TokenizerError } from '../errors';

export interface TemplateBudget {
  /** Evaluations + loop iterations + range() items (default 1,000,000). */
  maxSteps: number;
  /** Longest string any expression may produce, in UTF-16 code units (default 32M). */
  maxChars: number;
  /** Characters produced over the whole render, counted at every block (default 256M). */
  maxTotalChars: number;
  /** Longest list any expression may produce (default 1M). */
  maxItems: number;
  /** Wall-clock limit in ms (default 10 s): a last resort, checked every 4,096 steps. */
  maxMs: number;
}

export const kTemplateBudget: TemplateBudget = {
  maxSteps: 1_000_000,
  maxChars: 1 << 25,
  maxTotalChars: 1 << 28,
  maxItems: 1 << 20,
  maxMs: 10_000,
};

export interface CompiledTemplate {
  render(vars: Record<string, unknown>, budget?: Partial<TemplateBudget>): string;
}

interface RuntimeValue {
  type: string;
  value: unknown;
}
type Evaluate = (node: unknown, env: Environment) => RuntimeValue;

/** Parses a template (a TokenizerError if it does not parse) for budgeted renders. */
export function compileTemplate(source: string): CompiledTemplate {
  let parsed: Template['parsed'];
  try {
    parsed = new Template(source).parsed;
  } catch (e) {
    throw new TokenizerError(`the chat template does not parse: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
  return {
    render(vars, partial) {
      const b = { ...kTemplateBudget, ...partial };
      const over = (what: string) =>
        new TokenizerError(`the chat template exceeded its budget: ${what} (a template that loops or grows without bound?)`);
      let steps = 0;
      let total = 0;
      const t0 = Date.now();
      const step = (n = 1) => {
        steps += n;
        if (steps > b.maxSteps) throw over(`more than ${b.maxSteps} steps`);
        if ((steps & 4095) < n && Date.now() - t0 > b.maxMs) throw over(`more than ${b.maxMs} ms`);
      };
      const checkValue = (v: RuntimeValue): RuntimeValue => {
        if (typeof v?.value === 'string' && v.value.length > b.maxChars) throw over(`a string of more than ${b.maxChars} characters`);
        if (Array.isArray(v?.value) && v.value.length > b.maxItems) throw over(`a list of more than ${b.maxItems} items`);
        return v;
      };

      const env = new Environment();
      // the globals Template.render sets (setupGlobals), with range() capped
      env.set('false', false);
      env.set('true', true);
      env.set('none', null);
      env.set('False', false);
      env.set('True', true);
      env.set('None', null);
      env.set('raise_exception', (msg: unknown) => {
        throw new TokenizerError(`the chat template raised an exception: ${String(msg)}`);
      });
      env.set('range', (start: number, stop?: number, stepBy = 1) => range(start, stop, stepBy, b.maxItems, step, over));
      env.set('strftime_now', strftimeNow);
      for (const [k, v] of Object.entries(vars)) env.set(k, v);

      const interp = new Interpreter(env);
      // every node and every block (each loop iteration runs one) goes through these two methods
      const self = interp as unknown as { evaluate: Evaluate; evaluateBlock: Evaluate };
      const evaluate = self.evaluate.bind(interp);
      const evaluateBlock = self.evaluateBlock.bind(interp);
      self.evaluate = (node, e) => {
        step();
        return checkValue(evaluate(node, e));
      };
      self.evaluateBlock = (nodes, e) => {
        step();
        const v = checkValue(evaluateBlock(nodes, e));
        total += (v.value as string).length;
        if (total > b.maxTotalChars) throw over(`more than ${b.maxTotalChars} characters produced`);
        return v;
      };
      try {
        const out = interp.run(parsed).value;
        if (typeof out !== 'string') throw new TokenizerError('the chat template did not produce text');
        return out;
      } catch (e) {
        if (e instanceof StarAttentionError) throw e;
        // the interpreter's own errors, and a RangeError if a string still outgrew the engine
        throw new TokenizerError(`the chat template failed: ${(e as Error)?.message ?? String(e)}`, { cause: e });
      }
    },
  };
}

function range(
  start: number,
  stop: number | undefined,
  stepBy: number,
  maxItems: number,
  step: (n: number) => void,
  over: (what: string) => Error,
): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  for (const v of [start, stop, stepBy]) if (typeof v !== 'number' || !Number.isFinite(v)) throw new TokenizerError(`range() needs numbers, got ${String(v)}`);
  if (stepBy === 0) throw new TokenizerError('range() step must not be zero');
  const n = Math.max(0, Math.ceil((stop - start) / stepBy));
  if (n > maxItems) throw over(`range() of ${n} items (the limit is ${maxItems})`);
  step(n);
  return Array.from({ length: n }, (_, i) => start + i * stepBy);
}

// jinja's strftime_now: %Y %m %d %b %B %H %M %% (what chat templates use for today's date)
function strftimeNow(format: unknown): string {
  if (typeof format !== 'string') throw new TokenizerError('strftime_now() needs a format string');
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  return format.replace(/%[YmdbBHM%]/g, (t) => {
    switch (t) {
      case '%Y':
        return String(d.getFullYear());
      case '%m':
        return pad(d.getMonth() + 1);
      case '%d':
        return pad(d.getDate());
      case '%b':
        return d.toLocaleString('en-US', { month: 'short' });
      case '%B':
        return d.toLocaleString('en-US', { month: 'long' });
      case '%H':
        return pad(d.getHours());
      case '%M':
        return pad(d.getMinutes());
      default:
        return '%';
    }
  });
}
