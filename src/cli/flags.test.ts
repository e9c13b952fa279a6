// Issue 16, item 1: every flag is checked where it is parsed, before any model file or GPU is touched; a bad one is
// one line naming the flag and what it got, with exit status 1 (before: `--ids 1,,3` ran on [1, 0, 3], `--ids ,,,`
// on zeros, `--chunk-rows 0` and `--max-context 0` failed inside kernels without naming the flag).
import { execFileSync, spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';

const kModel = 'public/fixtures/tiny-llama';

// measured on the 2-core dev machine at load ~20: 1.6-2.5 s a call (Node starting, no GPU work), 27 s the file; 60 s each
const cli = (args: string[]) => spawnSync(process.execPath, ['bin/star-attn.mjs', ...args], { encoding: 'utf8', env: process.env, timeout: 60_000 });

describe('CLI flags', () => {
  beforeAll(() => {
    execFileSync(process.execPath, ['scripts/build.mjs', 'dist/cli'], { stdio: 'inherit' });
  });

  const cases: Array<[string, string[], RegExp]> = [
    ['--ids with an empty entry', ['logits', '--model', kModel, '--ids', '1,,3'], /--ids: "" is not a token id/],
    ['--ids of commas only', ['logits', '--model', kModel, '--ids', ',,,'], /--ids: "" is not a token id/],
    ['--ids with a negative id', ['logits', '--model', kModel, '--ids', '1,-2'], /--ids: "-2" is not a token id/],
    ['--ids with a fraction', ['logits', '--model', kModel, '--ids', '1,2.5'], /--ids: "2.5" is not a token id/],
    ['--chunk-rows 0', ['generate', '--model', kModel, '--prompt', 'x', '--chunk-rows', '0'], /--chunk-rows must be at least 1, got 0/],
    ['--max-context 0', ['generate', '--model', kModel, '--prompt', 'x', '--max-context', '0'], /--max-context must be at least 1, got 0/],
    ['--max-context of text', ['generate', '--model', kModel, '--prompt', 'x', '--max-context', 'lots'], /--max-context must be an integer, got "lots"/],
    ['--hosts 0', ['generate', '--model', kModel, '--prompt', 'x', '--attention', 'star', '--block-size', '8', '--hosts', '0'], /--hosts must be at least 1, got 0/],
    ['--block-size L/0', ['generate', '--model', kModel, '--prompt', 'x', '--attention', 'star', '--block-size', 'L/0'], /block-size/],
    ['--attention star without a block size', ['generate', '--model', kModel, '--prompt', 'x', '--attention', 'star'], /--attention star needs --block-size/],
    ['--mode of an unknown kind', ['generate', '--model', kModel, '--prompt', 'x', '--mode', 'cluster'], /--mode must be one of workers, single-device, got "cluster"/],
    ['--max-binding-bytes of text', ['generate', '--model', kModel, '--prompt', 'x', '--max-binding-bytes', 'big'], /--max-binding-bytes must be a byte count/],
  ];
  for (const [what, args, re] of cases) {
    it(`${what}: one line naming the flag, exit 1`, () => {
      const r = cli(args);
      expect(r.status, r.stderr).toBe(1);
      const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('star-attn: GPU:'));
      expect(lines[0]).toMatch(re);
      expect(lines[0]).toMatch(/^star-attn: /);
      // a usage error may print the usage after its line; nothing else (no stack, no driver noise)
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }
});
