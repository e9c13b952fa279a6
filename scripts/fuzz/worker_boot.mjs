// Starts the fuzz worker (worker.ts) with tsx's loader: worker threads do not inherit the loader tsx gave
// the main thread.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
