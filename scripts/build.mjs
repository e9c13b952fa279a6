// Bundles the Node entry points (CLI, library, benchmarks, host worker) with esbuild.
// WGSL `?raw` imports become strings, as under Vite, so one shaders.ts serves browser and Node.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const rawPlugin = {
  name: 'raw',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => ({
      path: resolve(dirname(args.importer), args.path.replace(/\?raw$/, '')),
      namespace: 'raw',
    }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, (args) => ({
      contents: `export default ${JSON.stringify(readFileSync(args.path, 'utf8'))};`,
      loader: 'js',
    }));
  },
};

// Node bundles keep npm packages external (they are dependencies); the GPU-machine benchmarks
// bundle everything but Dawn's addon, which .gpu/setup.sh unpacks beside them.
const entries = [
  { in: 'src/cli/main.ts', out: 'dist/cli.mjs', external: 'deps' },
  { in: 'src/index.ts', out: 'dist/lib/index.js', external: 'deps' },
  { in: 'src/hosts/node_worker_entry.ts', out: 'dist/host_worker.mjs', external: 'deps' },
  { in: 'src/hosts/node_process_entry.ts', out: 'dist/host_process.mjs', external: 'deps' },
  { in: 'src/hosts/node_process_entry.ts', out: 'dist/bench/host_process.mjs', external: 'webgpu' },
  { in: 'scripts/bench/kernels.ts', out: 'dist/bench/kernels.mjs', external: 'webgpu' },
  { in: 'scripts/bench/gemm_variants.ts', out: 'dist/bench/gemm_variants.mjs', external: 'webgpu' },
  { in: 'scripts/bench/star.ts', out: 'dist/bench/star.mjs', external: 'webgpu' },
  { in: 'scripts/bench/decode.ts', out: 'dist/bench/decode.mjs', external: 'webgpu' },
  { in: 'scripts/bench/decode_profile.ts', out: 'dist/bench/decode_profile.mjs', external: 'webgpu' },
  { in: 'scripts/bench/prefill.ts', out: 'dist/bench/prefill.mjs', external: 'webgpu' },
  { in: 'scripts/bench/fence.ts', out: 'dist/bench/fence.mjs', external: 'webgpu' },
  { in: 'scripts/bench/chunk_profile.ts', out: 'dist/bench/chunk_profile.mjs', external: 'webgpu' },
  { in: 'scripts/bench/gemm_small_m.ts', out: 'dist/bench/gemm_small_m.mjs', external: 'webgpu' },
  { in: 'scripts/bench/kv_capacity.ts', out: 'dist/bench/kv_capacity.mjs', external: 'webgpu' },
  { in: 'scripts/bench/checks.ts', out: 'dist/bench/checks.mjs', external: 'webgpu' },
  { in: 'scripts/bench/exchange.ts', out: 'dist/bench/exchange.mjs', external: 'webgpu' },
  { in: 'src/hosts/node_worker_entry.ts', out: 'dist/bench/host_worker.mjs', external: 'webgpu' },
  { in: 'scripts/reliability/dawn_cycles.ts', out: 'dist/bench/dawn_cycles.mjs', external: 'webgpu' },
  // the leak cycles with the library beside them (`node dist/bench/leaks.mjs --lib dist/bench/lib.mjs`)
  { in: 'scripts/reliability/leaks.ts', out: 'dist/bench/leaks.mjs', external: 'webgpu' },
  { in: 'src/index.ts', out: 'dist/bench/lib.mjs', external: 'webgpu' },
  // the CLI with its dependencies inside, for the GPU machine (RULER runs: scripts/bench/ruler_gpu.sh)
  { in: 'src/cli/main.ts', out: 'dist/bench/cli.mjs', external: 'webgpu' },
];

// `node scripts/build.mjs host_worker cli` builds only the entries whose output names contain those words
const only = process.argv.slice(2);
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const deps = Object.keys(pkg.dependencies ?? {});

await Promise.all(
  entries
    .filter((e) => existsSync(e.in) && (only.length === 0 || only.some((w) => e.out.includes(w))))
    .map((e) =>
      build({
        entryPoints: [e.in],
        outfile: e.out,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        sourcemap: true,
        plugins: [rawPlugin],
        external: e.external === 'deps' ? deps : ['webgpu'],
        // bundled CommonJS dependencies call require(); give ESM output one
        banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
        logLevel: 'warning',
      }),
    ),
);

// the package's type declarations (package.json "types"): `node scripts/build.mjs types` builds only these
if (only.length === 0 || only.includes('types')) {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.types.json'], { stdio: 'inherit' });
}
