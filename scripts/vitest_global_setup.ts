// Worker-host tests spawn dist/host_process.mjs / dist/host_worker.mjs: build those bundles once before the suite.
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  try {
    execFileSync(process.execPath, ['scripts/build.mjs', 'dist/host_'], { stdio: 'inherit' });
  } catch {
    console.warn('global setup: building dist/host_worker.mjs failed; worker-host tests will fail');
  }
}
