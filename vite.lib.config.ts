// The package's browser build (package.json "exports" → "browser"): src/index.ts with every dependency bundled
// in, as ES modules under dist/browser/, and the Web Worker entries (host, quantizer) under dist/browser/assets/.
// Node's built-ins, reached only behind `isNode`, become empty stubs; Dawn (`webgpu`) stays out (its import is
// hidden from bundlers).
import { defineConfig, type Plugin } from 'vite';

/** The package's Web Worker entries (their source file's name → the file under dist/browser/assets/). */
const kWorkerFiles: Record<string, string> = { browser_worker_entry: 'host_worker.js', quant_worker: 'quant_worker.js' };

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
      let out = code;
      for (const file of Object.values(kWorkerFiles)) {
        if (!code.includes(`assets/${file}`)) continue;
        const f = file.replace('.', '\\.');
        const re = new RegExp(`new URL\\(\\s*/\\* @vite-ignore \\*/\\s*(?:new URL\\("assets/${f}", import\\.meta\\.url\\)\\.href|"assets/${f}"),\\s*"" \\+ import\\.meta\\.url\\s*\\)`, 'g');
        if (!re.test(out)) this.error(`the URL of ${file} is not in the form plain-worker-url rewrites: update its pattern`);
        out = out.replace(re, `new URL("./assets/${file}", import.meta.url)`);
      }
      return out === code ? null : { code: out, map: null };
    },
  };
}

export default defineConfig({
  publicDir: false,
  base: './',
  worker: {
    format: 'es',
    rollupOptions: {
      output: {
        entryFileNames: (chunk) => {
          const file = kWorkerFiles[chunk.name];
          if (!file) throw new Error(`vite.lib.config.ts: a Web Worker entry '${chunk.name}' with no file name in kWorkerFiles`);
          return `assets/${file}`;
        },
      },
    },
  },
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
