// The only module that imports WGSL. Vite (and Vitest) load `?raw` as a string; the esbuild bundles
// for Node use the same `?raw` plugin (scripts/build.mjs).
import add from '../../shaders/add.wgsl?raw';

export const kShaders = {
  add,
} as const;

export type ShaderName = keyof typeof kShaders;
