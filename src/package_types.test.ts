// The published types as a consumer sees them: a strict TypeScript project that imports the package by its
// name type-checks against dist/types (package.json "exports"), and a misuse is a type error, not `any`.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const kUse = `
import { Engine, ruler, StarConfigError, type GenerateResult, type ProgressEvent } from 'star-attention-webgpu';
export async function answer(context: string, query: string): Promise<string> {
  const engine = await Engine.load({ model: { baseUrl: '/models/ruler-llama-tiny/' }, maxContext: 8192, onProgress: (e: ProgressEvent) => void e.phase });
  const r: GenerateResult = await engine.generate({ context, query, attention: 'star', blockSize: 'L/4', hosts: 4, mode: 'workers', maxNewTokens: 32 });
  const device: GPUDevice | undefined = undefined;
  void device;
  await engine.dispose();
  const label: string = ruler.configLabel({ attention: 'star', blockSize: 'L/8', hosts: 4 });
  return r.text + r.timings.prefillMs + label + String(new StarConfigError('x') instanceof Error);
}
`;
const kMisuse = `
import { Engine } from 'star-attention-webgpu';
export async function wrong(e: Engine): Promise<number> {
  const r = await e.generate({ prompt: 'hi', attention: 'stars' });
  return r.text;
}
`;

describe('package types', () => {
  let dir: string;
  const tsc = (file: string) =>
    spawnSync(process.execPath, [resolve('node_modules/typescript/bin/tsc'), '-p', join(dir, `tsconfig.${file}.json`)], { encoding: 'utf8' });
  beforeAll(() => {
    execFileSync(process.execPath, ['scripts/build.mjs', 'types'], { stdio: 'inherit' });
    dir = mkdtempSync(join(tmpdir(), 'consumer-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(resolve('.'), join(dir, 'node_modules', 'star-attention-webgpu'), 'dir');
    for (const [name, text] of [['use', kUse], ['misuse', kMisuse]]) {
      writeFileSync(join(dir, `${name}.ts`), text);
      // strict, no ambient types of its own, and the package's declarations checked too (skipLibCheck off)
      const compilerOptions = { strict: true, noEmit: true, target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022', 'DOM'], types: [], skipLibCheck: false };
      writeFileSync(join(dir, `tsconfig.${name}.json`), JSON.stringify({ compilerOptions, files: [`${name}.ts`] }));
    }
  });
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('a strict consumer type-checks, WebGPU types included', () => {
    const r = tsc('use');
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('misuse is caught: an unknown attention kind, a string returned as a number', () => {
    const r = tsc('misuse');
    expect(r.status).not.toBe(0);
    expect(r.stdout).toMatch(/misuse\.ts\(4,.*'"stars"'/);
    expect(r.stdout).toMatch(/misuse\.ts\(5,.*TS2322/);
  });
});
