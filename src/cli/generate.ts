// star-attn generate: streams an answer, then timings.
import { readFileSync } from 'node:fs';
import { Engine } from '../engine';
import { attentionFromFlags, intFlag, kAttentionFlags, kModelFlags, kModelUsage, kSizeHelp, numFlag, parse, UsageError } from './args';
import { engineOptions } from './model_flag';
import { planSummary } from './plan_summary';

const kUsage = `usage: star-attn generate [--model <folder|hub id>] --prompt <text|@file> [--max-tokens N] [--chat]
         [--temperature T] [--top-k K] [--top-p P] [--seed S] [--stop <text>]
         [--context <text|@file> --query <text|@file>]
         [--attention global|star] [--block-size B|L/n] [--anchor-size A|L/n] [--hosts H] [--mode workers|single-device]
         ${kModelUsage} [--json] [--dry-run]
${kSizeHelp}
--dry-run prints the run's plan (hosts, chunks, KV pages, memory per host) as JSON without running it.`;

function textArg(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v.startsWith('@')) {
    try {
      return readFileSync(v.slice(1), 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read ${v.slice(1)}: ${(e as Error).message}`);
    }
  }
  return v;
}

export async function generateCommand(argv: string[]): Promise<void> {
  const { values: v } = parse(
    argv,
    {
      ...kModelFlags,
      ...kAttentionFlags,
      prompt: { type: 'string', short: 'p' },
      context: { type: 'string' },
      query: { type: 'string' },
      'max-tokens': { type: 'string' },
      chat: { type: 'boolean' },
      temperature: { type: 'string' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
      seed: { type: 'string' },
      stop: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
    },
    kUsage,
  );
  if (v.help) return console.log(kUsage);
  const prompt = textArg(v.prompt);
  const context = textArg(v.context);
  const query = textArg(v.query);
  if (!prompt && !query) throw new UsageError(`give --prompt, or --context with --query\n${kUsage}`);
  const att = attentionFromFlags(v);
  const engine = await Engine.load({ ...engineOptions(v), preload: att.mode !== 'workers' && !v['dry-run'] });
  try {
    const ac = new AbortController();
    process.once('SIGINT', () => ac.abort());
    const req = {
      ...att,
      prompt,
      context,
      query,
      chat: v.chat,
      maxNewTokens: intFlag('max-tokens', v['max-tokens'], 128),
      temperature: numFlag('temperature', v.temperature, 0),
      topK: intFlag('top-k', v['top-k'], 0),
      topP: numFlag('top-p', v['top-p'], 1),
      seed: intFlag('seed', v.seed, 0),
      stop: v.stop,
      signal: ac.signal,
      onToken: v.json ? undefined : (t: string) => process.stdout.write(t),
    };
    if (v['dry-run']) {
      console.log(JSON.stringify(planSummary(engine.plan(req)), null, 2));
      return;
    }
    const res = await engine.generate(req);
    if (v.json) {
      console.log(JSON.stringify({ ...res, logits: undefined }));
      return;
    }
    const t = res.timings;
    process.stdout.write('\n');
    console.error(
      `[${res.attention}${res.attention === 'star' ? ` b=${res.plan.blockSize} a=${res.plan.anchorSize} hosts=${res.plan.hosts} ${res.plan.mode}` : ''} kv ${res.plan.kvDtype}] ` +
        `context ${res.contextTokens} + query ${res.queryTokens} tokens; time to first token ${t.firstTokenMs.toFixed(1)} ms ` +
        `(phase 1 ${t.phase1Ms.toFixed(1)} ms); ${res.tokens.length} tokens, ${t.decodeMsPerToken.toFixed(2)} ms/token ` +
        `(${t.decodeTokensPerSecond.toFixed(1)} tok/s); stop: ${res.stopReason}; GPU memory ${(res.gpuMemoryBytes / 2 ** 20).toFixed(1)} MiB; ${engine.gpu.vendor} ${engine.gpu.architecture}`,
    );
  } finally {
    await engine.dispose();
  }
}
