// Headless-Chromium GPU regression tests: Vite serves e2e/pages/*.html (a secure context, with the
// COOP/COEP headers of vite.config.ts), Debian's chromium runs them on SwiftShader's Vulkan driver.
// Never `npx playwright install`: the system chromium is the browser (apt-get install chromium).
import { defineConfig } from '@playwright/test';

// E2E_PORT lets two checkouts run e2e side by side (a reused server would serve the other tree's code)
const port = Number(process.env.E2E_PORT ?? 4173);

// only --enable-unsafe-webgpu is needed for an adapter (measured with chromium 156); the swiftshader pins
// keep results the same on machines that do have a GPU (E2E_GPU=hardware lifts them), and the rest stop
// background traffic on a closed network; --no-sandbox because CI runs as root
// the last pin is SwiftShader's compile time: Vulkan's workgroup zero-initialisation compiles one store per
// element there (an engine's first run ~6x slower to compile); without it Tint zeroes in a loop, same semantics
// (the Node side does the same: dawnFlags in src/gpu/device.ts)
const swiftShader =
  process.env.E2E_GPU === 'hardware'
    ? []
    : ['--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--disable-dawn-features=use_vulkan_zero_initialize_workgroup_memory_extension'];
const chromiumArgs = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  ...swiftShader,
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  // SwiftShader spreads one device over every core: parallel browsers only thrash
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  // per test; each spec sets its own, measured, timeout for the slow part
  timeout: 5 * 60_000,
  expect: { timeout: 10_000 },
  reporter: 'list',
  use: {
    baseURL: `http://localhost:${port}`,
    headless: true,
    trace: 'off',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: chromiumArgs,
    },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
  webServer: {
    command: `npx vite --config e2e/vite.config.ts --port ${port} --strictPort`,
    url: `http://localhost:${port}/e2e/pages/kernels.html`,
    reuseExistingServer: !process.env.CI,
    timeout: 120_000,
    // e2e/vite.config.ts imports ../vite.config without an extension (tsc needs that), which Vite's
    // future native config loader would not accept; the default loader does
    env: { VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true' },
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
