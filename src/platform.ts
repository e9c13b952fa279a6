// Where this code runs. A leaf module, like errors.ts: every layer may import it.

/** True in Node (main thread, worker_threads or a child process); false in browsers and their workers. */
export const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string' && typeof window === 'undefined';

/** True on a browser page's own thread (the one that paints), false in workers and Node. */
export const isPageThread = !isNode && typeof document !== 'undefined';
