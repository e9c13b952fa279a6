import { defineConfig } from 'vitest/config';

export default defineConfig({
  // pages are separate entries (demo, e2e harness); a missing file must be a 404, not index.html
  appType: 'mpa',
  server: {
    // cross-origin isolation gives the page SharedArrayBuffer for worker hosts
    headers: {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    },
  },
  preview: {
    headers: {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    },
  },
  worker: { format: 'es' },
  build: { target: 'es2022' },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
    globalSetup: ['./scripts/vitest_global_setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // SwiftShader already spreads one device over every core; parallel files only thrash
    fileParallelism: false,
    env: {
      VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? '/usr/lib/chromium/vk_swiftshader_icd.json',
      XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp',
    },
  },
});
