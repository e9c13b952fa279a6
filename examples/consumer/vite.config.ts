import { defineConfig } from 'vite';

// the page's security headers, as the package's own demo sends them: no inline script, no eval
const headers = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; worker-src 'self' blob:; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'",
};

export default defineConfig({
  // the bundled model ships in the package (public/models/ruler-llama-tiny): serve it as this page's /models/
  publicDir: 'node_modules/star-attention-webgpu/public',
  // the package's Web Worker host is a file beside it (new URL('./assets/host_worker.js', import.meta.url)):
  // pre-bundling would move the package away from it
  optimizeDeps: { exclude: ['star-attention-webgpu'] },
  worker: { format: 'es' },
  build: { target: 'es2022' },
  server: { headers },
  preview: { headers },
});
