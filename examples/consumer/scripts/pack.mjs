// Packs the repository (two folders up) as npm would publish it, into this folder as star-attention-webgpu.tgz,
// the file package.json's dependency names. `npm pack` runs the package's prepare script (the build) first.
import { execFileSync } from 'node:child_process';
import { renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('..', import.meta.url));
const root = process.argv[2] ?? fileURLToPath(new URL('../../..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const text = execFileSync(npm, ['pack', root, '--pack-destination', here, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
// the prepare script (the build) may print to stdout before npm's JSON
const out = JSON.parse(text.slice(text.search(/^\[/m)));
renameSync(`${here}/${out[0].filename}`, `${here}/star-attention-webgpu.tgz`);
console.log(`packed ${out[0].name}@${out[0].version}: ${out[0].entryCount} files, ${(out[0].size / 2 ** 20).toFixed(1)} MiB → star-attention-webgpu.tgz`);
