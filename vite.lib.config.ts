// The package's browser build (package.json "exports" → "browser"): src/index.ts with every dependency bundled
// in, as ES modules under dist/browser/, and the Web Worker host entry as dist/browser/assets/host_worker.js.
// Node's built-ins, reached only behind `isNode`, become empty stubs; Dawn (`webgpu`) stays out (its import is
// hidden from bundlers).
import { defineConfig, type Plugin } from 'vite';

/**
 * Vite writes the worker's URL as `new URL(/* @vite-ignore *\/ "assets/x.js", "" + import.meta.url)`, which a
 * consumer's bundler skips (and so never copies the worker). Written back as the plain
 * `new URL("./assets/host_worker.js", import.meta.url)`, the consumer's Vite (or webpack, esbuild with a
 * plugin) bundles the worker as it bundles its own.
 */
function plainWorkerUrl(): Plugin {
  return {
    name: 'plain-worker-url',
    enforce: 'post',
    renderChunk(code) {
      const re = /new URL\(\s*\/\* @vite-ignore \*\/\s*(?:new URL\("assets\/host_worker\.js", import\.meta\.url\)\.href|"assets\/host_worker\.js"),\s*"" \+ import\.meta\.url\s*\)/g;
      if (!code.includes('assets/host_worker.js')) return null;
      if (!re.test(code)) this.error('the worker URL is not in the form plain-worker-url rewrites: update its pattern');
      return { code: code.replace(re, 'new URL("./assets/host_worker.js", import.meta.url)'), map: null };
    },
  };
}

export default defineConfig({
  publicDir: false,
  base: './',
  worker: { format: 'es', rollupOptions: { output: { entryFileNames: 'assets/host_worker.js' } } },
  plugins: [plainWorkerUrl()],
  build: {
    target: 'es2022',
    outDir: 'dist/browser',
    emptyOutDir: true,
    // no source maps: they would triple what a consumer downloads
    sourcemap: false,
    minify: false,
    lib: { entry: 'src/index.ts', formats: ['es'], fileName: 'index' },
  },
});
