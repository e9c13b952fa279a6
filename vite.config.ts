import { defineConfig } from 'vitest/config';

/**
 * The page's Content-Security-Policy, sent by the dev server and by `vite preview`, and the one to send from
 * any server that hosts the built page (README "The demo page"). Scripts only from the page's origin: no
 * inline script, no eval (`script-src` lacks 'unsafe-inline' and 'unsafe-eval'). Workers (the Web Worker
 * hosts, PDF.js) from the origin. WebGPU needs no directive. Model downloads: this origin and the Hugging
 * Face Hub with its file CDNs. Styles allow inline: Vite's dev server injects CSS as <style> elements.
 */
export const kContentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "worker-src 'self' blob:",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self' https://huggingface.co https://*.huggingface.co https://*.hf.co",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const kHeaders = {
  // cross-origin isolation gives the page and its workers SharedArrayBuffer: the Web Worker hosts' phase-2
  // exchange goes through shared memory (src/hosts/peer_shared.ts), else through MessagePorts. require-corp, not
  // credentialless: the only cross-origin requests are CORS-mode fetches of the Hugging Face Hub, which both
  // allow, and require-corp is the one every WebGPU browser honours (README "The demo page")
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Content-Security-Policy': kContentSecurityPolicy,
};

export default defineConfig({
  // pages are separate entries (demo, e2e harness); a missing file must be a 404, not index.html
  appType: 'mpa',
  server: { headers: kHeaders },
  preview: { headers: kHeaders },
  worker: { format: 'es' },
  // the built page goes beside the Node bundles, never into dist/ (the package's files)
  build: { target: 'es2022', outDir: 'dist-page', emptyOutDir: true },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
    globalSetup: ['./scripts/vitest_global_setup.ts'],
    // GPU tests on SwiftShader: a fresh engine's first generation compiles its pipelines, 90-120 s on the 2-core dev
    // machine at load 13-20 (2026-12-01; a clean-clone CI run failed two tests at 120.1 s against the old 120 s).
    // Tests known to take longer set their own limit; hangs are caught by the time bounds inside the tests.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    // SwiftShader already spreads one device over every core; parallel files only thrash
    fileParallelism: false,
    env: {
      VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? '/usr/lib/chromium/vk_swiftshader_icd.json',
      XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp',
    },
  },
});
