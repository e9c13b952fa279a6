// Bundles scripts/train/make_data.ts with everything it imports (src/ruler, @huggingface/tokenizers, the
// word lexicon) into one file, dist/train/make_data.mjs, for the GPU machine, which has no node_modules:
// there it runs under the carried node (.gpu/node.xz). `node scripts/train/bundle.mjs` (a second or two).
import { build } from 'esbuild';
import { statSync } from 'node:fs';

const out = 'dist/train/make_data.mjs';
await build({
  entryPoints: ['scripts/train/make_data.ts'],
  outfile: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  // some bundled CommonJS modules call require(): give the ESM bundle one
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
console.log(`${out}: ${(statSync(out).size / 2 ** 20).toFixed(2)} MiB`);
