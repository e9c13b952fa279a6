// Node host processes link to each other over a local socket (a Unix socket, a named pipe on Windows) carrying
// raw frames: a 20-byte header (u32 kind, serial, layer, nA, nB) and the floats as they lie in memory. No
// JSON, no structured clone, no hop through the parent process. The query host listens; each shard host
// connects and says which shard it is; the listening socket closes as soon as all have connected.
import { Inbox, type PeerChannel, type PeerMessage } from './peer_link';

type Net = typeof import('node:net');
type Socket = import('node:net').Socket;

const kHeaderBytes = 20;
const enum Kind {
  Q = 1,
  Partial = 2,
  Fail = 3,
  Hello = 4,
}

async function nodeModule<T>(name: string): Promise<T> {
  return (await import(/* @vite-ignore */ name)) as T;
}

/** Frames `m` onto `socket`: one writev of header and payload. */
function write(socket: Socket, kind: Kind, serial: number, layer: number, parts: ArrayBufferView[], nA: number, nB: number): void {
  const header = Buffer.from(Uint32Array.of(kind, serial, layer, nA, nB).buffer);
  socket.cork();
  socket.write(header);
  for (const p of parts) if (p.byteLength > 0) socket.write(Buffer.from(p.buffer, p.byteOffset, p.byteLength));
  socket.uncork();
}

function sendMessage(socket: Socket, m: PeerMessage): void {
  if (m.kind === 'q') write(socket, Kind.Q, m.serial, m.layer, [m.q], m.q.length, 0);
  else if (m.kind === 'partial') write(socket, Kind.Partial, m.serial, m.layer, [m.out, m.lse], m.out.length, m.lse.length);
  else {
    const text = new TextEncoder().encode(JSON.stringify(m.error));
    write(socket, Kind.Fail, m.serial, 0, [text], text.length, 0);
  }
}

/** Splits the byte stream back into frames; `onFrame` gets the header and a fresh, aligned copy of the payload. */
function frameReader(onFrame: (h: Uint32Array, body: ArrayBuffer) => void): (chunk: Buffer) => void {
  let pending: Buffer[] = [];
  let have = 0;
  let header: Uint32Array | undefined;
  const take = (n: number): ArrayBuffer => {
    // copies n bytes out of the pending chunks into a new ArrayBuffer (4-byte aligned for Float32Array)
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = pending[0];
      const k = Math.min(c.length, n - at);
      out.set(c.subarray(0, k), at);
      at += k;
      if (k === c.length) pending.shift();
      else pending[0] = c.subarray(k);
    }
    have -= n;
    return out.buffer;
  };
  const bodyBytes = (h: Uint32Array) => (h[0] === Kind.Q || h[0] === Kind.Partial ? (h[3] + h[4]) * 4 : h[3]);
  return (chunk) => {
    pending.push(chunk);
    have += chunk.length;
    for (;;) {
      if (!header) {
        if (have < kHeaderBytes) return;
        header = new Uint32Array(take(kHeaderBytes));
      }
      const n = bodyBytes(header);
      if (have < n) return;
      const h = header;
      header = undefined;
      onFrame(h, n > 0 ? take(n) : new ArrayBuffer(0));
      if (have === 0) pending = [];
    }
  };
}

function decode(h: Uint32Array, body: ArrayBuffer): PeerMessage | undefined {
  const [kind, serial, layer, nA, nB] = h;
  if (kind === Kind.Q) return { kind: 'q', serial, layer, q: new Float32Array(body, 0, nA) };
  if (kind === Kind.Partial) return { kind: 'partial', serial, layer, out: new Float32Array(body, 0, nA), lse: new Float32Array(body, nA * 4, nB) };
  if (kind === Kind.Fail) return { kind: 'fail', serial, error: JSON.parse(new TextDecoder().decode(body)) };
  return undefined;
}

function socketChannel(socket: Socket, peer: string, inbox: Inbox): PeerChannel {
  socket.on('close', () => inbox.close('its link was closed'));
  socket.on('error', () => {}); // 'close' follows
  return {
    peer,
    send: (m) => sendMessage(socket, m),
    next: (serial) => inbox.next(serial),
    interrupt: (serial, e) => inbox.interrupt(serial, e),
    close() {
      inbox.close('its link was closed');
      socket.destroy();
    },
  };
}

/**
 * Query host: listens on a fresh local address for `peers.length` shard hosts. Returns the address at once
 * and `ready`, which resolves with one channel per shard (in `peers`' order) once all have said hello.
 */
export async function listenForPeers(peers: string[]): Promise<{ address: string; ready: Promise<PeerChannel[]> }> {
  const net = await nodeModule<Net>('node:net');
  const { tmpdir } = await nodeModule<typeof import('node:os')>('node:os');
  const { join } = await nodeModule<typeof import('node:path')>('node:path');
  const { rmSync } = await nodeModule<typeof import('node:fs')>('node:fs');
  const tag = `star-attn-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  // Linux: an abstract socket (no file, gone with the process even when it dies before the shards connect);
  // Windows: a named pipe; elsewhere a file in tmpdir, removed once connected or when the process exits
  const inFile = process.platform !== 'linux' && process.platform !== 'win32';
  const address = process.platform === 'win32' ? `\\\\.\\pipe\\${tag}` : process.platform === 'linux' ? `\0${tag}` : join(tmpdir(), `${tag}.sock`);
  const removeFile = () => inFile && rmSync(address, { force: true });
  const channels: (PeerChannel | undefined)[] = peers.map(() => undefined);
  const server = net.createServer();
  const ready = new Promise<PeerChannel[]>((resolve, reject) => {
    server.on('error', reject);
    server.on('connection', (socket) => {
      socket.setNoDelay(true);
      let inbox: Inbox | undefined; // made at the hello, when the shard's name is known
      socket.on('data', frameReader((h, body) => {
        if (h[0] === Kind.Hello) {
          const i = h[2];
          if (i >= peers.length || channels[i]) return void socket.destroy();
          inbox = new Inbox(peers[i]);
          channels[i] = socketChannel(socket, peers[i], inbox);
          if (channels.every(Boolean)) {
            server.close();
            removeFile();
            process.off('exit', removeFile);
            resolve(channels as PeerChannel[]);
          }
          return;
        }
        const m = decode(h, body);
        if (m) inbox?.push(m);
      }));
    });
  });
  ready.catch(() => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address, () => resolve());
  });
  if (inFile) process.on('exit', removeFile);
  return { address, ready };
}

/** Shard host `index`: connects to the query host `peer` listening at `address`. */
export async function connectToPeer(address: string, index: number, peer: string): Promise<PeerChannel> {
  const net = await nodeModule<Net>('node:net');
  const socket = net.createConnection(address);
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const inbox = new Inbox(peer);
  socket.on('data', frameReader((h, body) => {
    const m = decode(h, body);
    if (m) inbox.push(m);
  }));
  write(socket, Kind.Hello, 0, index, [], 0, 0);
  return socketChannel(socket, peer, inbox);
}
