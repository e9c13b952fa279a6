// A package-lock.json for a copy of examples/consumer, cut from the repository's own lock: every package the
// example needs at the version the repository installed, so `npm ci --offline` finds all of them in npm's
// cache (filled by the repository's `npm ci`) and the test needs no registry. The package itself is the
// tarball `npm pack` just wrote (no integrity: it changes with every build).
import { readFileSync } from 'node:fs';

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [k: string]: unknown;
}

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** Where Node would find `name` required from the package installed at `from` ('' = the project). */
function resolveIn(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  for (let dir = from; ; ) {
    const p = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (packages[p]) return p;
    if (!dir) return undefined;
    const i = dir.lastIndexOf('/node_modules/');
    dir = i < 0 ? '' : dir.slice(0, i);
  }
}

/**
 * The lock for `example` (its package.json) with `pkg` (the repository's package.json) installed from
 * `tarball`; `rootLockPath` is the repository's package-lock.json. Throws when a package is missing from it.
 */
export function consumerLock(rootLockPath: string, example: Manifest, pkg: Manifest, tarball: string): object {
  const root = JSON.parse(readFileSync(rootLockPath, 'utf8')) as { packages: Record<string, LockEntry> };
  const src = root.packages;
  const out: Record<string, LockEntry> = {
    '': { name: example.name, version: example.version, dependencies: example.dependencies, devDependencies: example.devDependencies },
    [`node_modules/${pkg.name}`]: { version: pkg.version, resolved: `file:${tarball}`, dependencies: pkg.dependencies },
  };
  // the installed package's dependencies resolve at the top level, as the repository's own do
  const todo: Array<[string, string, boolean]> = [
    ...Object.keys(example.devDependencies ?? {}).map((n): [string, string, boolean] => ['', n, false]),
    ...Object.keys(pkg.dependencies ?? {}).map((n): [string, string, boolean] => ['', n, false]),
  ];
  const seen = new Set<string>();
  while (todo.length) {
    const [from, name, optional] = todo.pop()!;
    const at = resolveIn(src, from, name);
    if (!at) {
      if (optional) continue;
      throw new Error(`${name} (needed by ${from || 'the example'}) is not in the repository's package-lock.json`);
    }
    if (seen.has(at)) continue;
    seen.add(at);
    // dev/peer flags describe the repository's tree, not this one
    const { dev, devOptional, peer, ...entry } = src[at];
    void dev, devOptional, peer;
    out[at] = entry;
    for (const n of Object.keys(entry.dependencies ?? {})) todo.push([at, n, false]);
    for (const n of Object.keys(entry.optionalDependencies ?? {})) todo.push([at, n, true]);
    for (const n of Object.keys(entry.peerDependencies ?? {})) todo.push([at, n, entry.peerDependenciesMeta?.[n]?.optional === true]);
  }
  return { name: example.name, version: example.version, lockfileVersion: 3, requires: true, packages: out };
}
