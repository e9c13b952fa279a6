// Every kernel check (src/gpu/checks) on this machine's GPU, the same checks Vitest and the e2e page run on
// SwiftShader: for the GPU machine, where compilers may schedule arithmetic differently.
//
//   node dist/bench/checks.mjs [--filter decode,attention.paged] [--seed 7] [--out bench/results/checks.json]
import { writeFileSync } from 'node:fs';
import { allChecks, runChecks } from '../../src/gpu/checks/index';
import { GpuContext } from '../../src/gpu/context';
import { requestDevice } from '../../src/gpu/device';
import { makeRng } from '../../src/gpu/testing';
import { arg } from './common';

const ctx = new GpuContext(await requestDevice());
const seed = Number(arg('seed', '7'));
console.log(`${ctx.handle.info.description}; seed ${seed}`);
const results = await runChecks(ctx, allChecks, makeRng(seed), arg('filter', ''), (id, rs, ms) =>
  console.log(`${id}: ${rs.length} result(s), ${rs.filter((r) => !r.ok).length} failed, ${ms.toFixed(0)} ms`),
);
const bad = results.filter((r) => !r.ok);
for (const r of bad) console.log(`FAILED ${r.name}: ${r.maxError} > ${r.bound}`);
console.log(`${results.length} results, ${bad.length} failed`);
writeFileSync(arg('out', 'bench/results/checks.json'), JSON.stringify({ date: new Date().toISOString(), gpu: ctx.handle.info.description, seed, results }, null, 2));
process.exit(bad.length ? 1 : 0);
