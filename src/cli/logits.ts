// star-attn logits: the last position's logits and N greedy tokens as one JSON object.
// Other tools check the engine through this exact interface: keep its flags and output stable.
import { Engine } from '../engine';
import { attentionFromFlags, intFlag, kAttentionFlags, kModelFlags, kModelUsage, kSizeHelp, parse, UsageError } from './args';
import { engineOptions } from './model_flag';
import { planSummary } from './plan_summary';

const kUsage = `usage: star-attn logits --model <folder> --ids <comma-separated token ids> [--greedy N] --json
         [--attention global|star --context-len N --block-size B|L/n --anchor-size A|L/n --hosts H --mode workers|single-device]
         ${kModelUsage} [--dry-run]
${kSizeHelp}
logits keeps an f32 KV cache unless --kv-dtype says otherwise: it is the interface for exact comparisons.`;

export async function logitsCommand(argv: string[]): Promise<void> {
  const { values: v } = parse(
    argv,
    {
      ...kModelFlags,
      ...kAttentionFlags,
      ids: { type: 'string' },
      greedy: { type: 'string' },
      'context-len': { type: 'string' },
      json: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
    },
    kUsage,
  );
  if (v.help) return console.log(kUsage);
  if (!v.ids) throw new UsageError(`--ids is required\n${kUsage}`);
  const ids = v.ids.split(',').map((s) => {
    // digits only: Number('') is 0, so "1,,3" must not become [1, 0, 3]
    if (!/^\s*\d+\s*$/.test(s)) throw new UsageError(`--ids: "${s}" is not a token id`);
    return Number(s);
  });
  if (ids.length === 0) throw new UsageError('--ids is empty');
  const greedy = intFlag('greedy', v.greedy, 0)!;
  if (greedy < 0) throw new UsageError('--greedy must be ≥ 0');
  const att = attentionFromFlags(v);
  const ctxLen = intFlag('context-len', v['context-len'], ids.length - 1)!;
  if (ctxLen < 0 || ctxLen >= ids.length) throw new UsageError(`--context-len must be in [0, ${ids.length - 1}] (the query needs ≥ 1 token)`);
  const engine = await Engine.load({ ...engineOptions(v, undefined, 'f32'), preload: att.mode !== 'workers' && !v['dry-run'] });
  try {
    const vocab = engine.config.vocabSize;
    const bad = ids.find((i) => i >= vocab);
    if (bad !== undefined) throw new UsageError(`--ids: token ${bad} is outside the vocabulary (size ${vocab})`);
    const req = { ...att, contextIds: ids.slice(0, ctxLen), queryIds: ids.slice(ctxLen), maxNewTokens: Math.max(1, greedy), stopAtEos: false, wantLogits: true };
    if (v['dry-run']) {
      console.log(JSON.stringify(planSummary(engine.plan(req)), null, 2));
      return;
    }
    const res = await engine.generate(req);
    const out = { logits: Array.from(res.logits!), greedy: res.tokens.slice(0, greedy) };
    console.log(JSON.stringify(out));
  } finally {
    await engine.dispose();
  }
}
