// What crosses the worker boundary: the host's methods as a service object, exposed with comlink.
// Typed arrays in results are transferred, not copied.
import * as Comlink from 'comlink';
import type { HostInfo, HostInit, Partial, SamplingParams, StepResult } from './host';
import { LocalHost } from './local_host';
import type { HostPlan } from '../star/plan';

export interface HostProgress {
  host: string;
  event: unknown;
}

/** Runs inside the worker; the page/main thread talks to it through `WorkerHost`. */
export class HostService {
  private host?: LocalHost;

  private need(): LocalHost {
    if (!this.host) throw new Error('host not initialised');
    return this.host;
  }

  async init(name: string, init: HostInit, onProgress?: (e: unknown) => void): Promise<HostInfo> {
    this.host = await LocalHost.create(name, init, undefined, onProgress);
    return this.host.info();
  }
  prepare(plan: HostPlan, extraRows: number) {
    return this.need().prepare(plan, extraRows);
  }
  encode(ids: Uint32Array) {
    return this.need().encode(ids);
  }
  async attendShard(layer: number, q: Float32Array, rows: number): Promise<Partial> {
    const p = await this.need().attendShard(layer, q, rows);
    return Comlink.transfer(p, [p.out.buffer, p.lse.buffer]);
  }
  queryBegin(ids: Uint32Array) {
    return this.need().queryBegin(ids);
  }
  async queryLayerPre(layer: number): Promise<Float32Array> {
    const q = await this.need().queryLayerPre(layer);
    return Comlink.transfer(q, [q.buffer]);
  }
  queryLayerPost(layer: number, remote: Partial[]) {
    return this.need().queryLayerPost(layer, remote);
  }
  async queryEnd(s: SamplingParams, u: number, wantLogits: boolean): Promise<StepResult> {
    return withTransfer(await this.need().queryEnd(s, u, wantLogits));
  }
  async queryLocal(ids: Uint32Array, s: SamplingParams, u: number, wantLogits: boolean): Promise<StepResult> {
    return withTransfer(await this.need().queryLocal(ids, s, u, wantLogits));
  }
  decodeSubmit(s: SamplingParams, u: number) {
    return this.need().decodeSubmit(s, u);
  }
  decodeRead() {
    return this.need().decodeRead();
  }
  memoryBytes() {
    return this.need().memoryBytes();
  }
  abort() {
    return this.host?.abort();
  }
  async dispose() {
    await this.host?.dispose();
    this.host = undefined;
  }
  /** Test hook: makes the worker die as a crashed worker would. */
  crash(): void {
    setTimeout(() => {
      throw new Error('deliberate host crash (test hook)');
    });
  }
}

function withTransfer(r: StepResult): StepResult {
  return r.logits ? Comlink.transfer(r, [r.logits.buffer]) : r;
}
