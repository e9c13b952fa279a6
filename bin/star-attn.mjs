#!/usr/bin/env node
// Launcher for the bundled CLI (built by `npm run build`, which `npm ci` runs through `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli.mjs', import.meta.url));
if (!existsSync(cli)) {
  console.error('star-attn: dist/cli.mjs is missing; run `npm run build` in the package root first.');
  process.exit(1);
}
await import(pathToFileURL(cli).href);
