// The dev server Playwright starts: the project's Vite config, minus hot reload. A run takes minutes
// on SwiftShader, and an edit anywhere in the tree (another engineer, an editor's autosave) would
// otherwise reload the page mid-run and start it over. Files are still watched, so the next page load
// gets fresh code.
import { fileURLToPath } from 'node:url';
import { mergeConfig } from 'vite';
import base from '../vite.config';

export default mergeConfig(base, {
  root: fileURLToPath(new URL('..', import.meta.url)),
  server: { hmr: false },
});
