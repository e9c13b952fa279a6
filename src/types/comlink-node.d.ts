// comlink ships types for its Node adapter as node-adapter.d.ts beside the .mjs file
declare module 'comlink/dist/esm/node-adapter.mjs' {
  import type { Endpoint } from 'comlink';
  export default function nodeEndpoint(nep: unknown): Endpoint;
}
