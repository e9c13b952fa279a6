// Adds file extensions to the relative imports of the package's declarations (dist/types), which tsc writes as
// they are in src ('./engine'): a consumer compiling with "moduleResolution": "NodeNext" (the usual setting for
// Node projects) refuses extensionless ones (TS2834). './x' becomes './x.js' (or './x/index.js' for a folder).
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = process.argv[2] ?? 'dist/types';
const re = /((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]*?)\2/g;
let files = 0, fixed = 0;

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.d.ts')) fix(p);
  }
}

function fix(file) {
  const text = readFileSync(file, 'utf8');
  const out = text.replace(re, (m, head, q, spec) => {
    if (/\.(js|mjs|cjs|json)$/.test(spec)) return m;
    const base = join(dirname(file), spec);
    const to = existsSync(`${base}.d.ts`) ? `${spec}.js` : existsSync(join(base, 'index.d.ts')) ? `${spec}/index.js` : undefined;
    if (!to) throw new Error(`${file}: cannot resolve ${spec}`);
    fixed++;
    return `${head}${q}${to}${q}`;
  });
  files++;
  if (out !== text) writeFileSync(file, out);
}

walk(root);
console.error(`dts_extensions: ${fixed} imports in ${files} declaration files`);
