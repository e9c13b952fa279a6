// The shard end of the link benchmark (link_suite.ts): answers `rounds` queries over a MessagePort or a
// shared-memory link, as a shard host's peerServe would, without a GPU.
import { portChannel } from '../../src/hosts/peer_link';
import { flip, sharedChannel, type SharedLinkBuffers } from '../../src/hosts/peer_shared';

export type LinkShardRequest = { port: MessagePort; buffers?: SharedLinkBuffers; rounds: number; nOut: number; nLse: number };

const scope = self as unknown as DedicatedWorkerGlobalScope;
scope.onmessage = async (ev: MessageEvent<LinkShardRequest>) => {
  const d = ev.data;
  const link = d.buffers ? sharedChannel(d.port, flip(d.buffers), 'query') : portChannel(d.port, 'query');
  for (let i = 0; i < d.rounds; i++) {
    const m = await link.next(1);
    if (m.kind !== 'q') throw new Error('expected a q');
    link.send({ kind: 'partial', serial: 1, layer: m.layer, out: new Float32Array(d.nOut).fill(m.q[0]), lse: new Float32Array(d.nLse) });
  }
};
