// A few hundred cases of the model-file fuzzer (scripts/fuzz: safetensors header, config.json, tokenizer.json,
// tokenizer_config.json with its chat template, the shard index), CPU only: each must end in a correct
// load or a typed error. The full run (`npx tsx scripts/fuzz/run.ts --cases 10000`, counts in NOTES.md)
// adds per-case deadlines and a heap limit in a worker.
import { describe, expect, it } from 'vitest';
import { kKinds, makeCase, runCase, type Outcome } from '../../scripts/fuzz/cases';

const kPerKind = 60;
// a fixed slice of cases (seed 2; the script's recorded run used seed 1); FUZZ_SEED picks another
const seed = Number(process.env.FUZZ_SEED ?? 2);

describe(`model-file fuzzing (seed ${seed})`, () => {
  for (const kind of kKinds) {
    it(`${kind}: ${kPerKind} cases end in a correct load or a typed error`, async () => {
      const counts: Record<Outcome, number> = { load: 0, typed: 0, crash: 0 };
      const crashes: string[] = [];
      for (let i = 0; i < kPerKind; i++) {
        const c = makeCase(kind, seed, i);
        const r = await runCase(c);
        counts[r.outcome]++;
        if (r.outcome === 'crash') crashes.push(`${kind}:${i} (${c.mutation}): ${r.detail} -- replay: npx tsx scripts/fuzz/run.ts --seed ${seed} --only ${kind}:${i}`);
      }
      expect(crashes).toEqual([]);
      // the mutations must reach the checks: most cases are refused
      expect(counts.typed).toBeGreaterThan(kind === 'tokenizer_config' ? 5 : kPerKind / 4);
    }, 60_000);
  }

  it('replays cases that once failed', async () => {
    // an added token with id 769000000 made the tokenizers library loop for 20 s (seed 1)
    expect(await runCase(makeCase('tokenizer', 1, 895))).toMatchObject({ outcome: 'typed', detail: expect.stringMatching(/"added_tokens" entries need .* an integer "id"/) });
  });
});
