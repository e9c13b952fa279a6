// The page's one engine: loaded from the model panel's choice, reloaded only when a run needs a longer cache
// than it has. Loads are chained, so panels starting at once share one engine instead of loading two. Every
// engine runs on the page's one GPUDevice, so a reload (another model, storage or cache size) compiles none of
// the kernels an engine before it compiled (pipelines are cached per device); a lost device is let go, and the
// next load requests a new one.
import { Engine, requestDevice, type EngineOptions, type ModelLocation, type ProgressEvent } from '../index';

/** What the model panel chose. */
export interface ModelChoice {
  model: ModelLocation;
  /** For messages and the RULER records (see model_identity.ts). */
  label: string;
  storage: NonNullable<EngineOptions['storage']>;
  kvDtype: NonNullable<EngineOptions['kvDtype']>;
  maxContext: number | 'auto';
}

type Listener = (e: Engine) => void;

export class Session {
  private loading?: Promise<Engine>;
  private loadedChoice?: ModelChoice;
  private listeners: Listener[] = [];
  private device?: ReturnType<typeof requestDevice>;

  /**
   * @param choose reads the model panel (throws a readable error for a bad choice)
   * @param progress told when a load starts, of its downloads and weights, and when it ends
   */
  constructor(
    private readonly choose: () => ModelChoice,
    private readonly progress: { start(c: ModelChoice): Promise<void>; on(e: ProgressEvent): void; done(): void },
  ) {}

  /** Called with each engine once it has loaded. */
  onLoad(f: Listener): void {
    this.listeners.push(f);
  }

  /** The engine loaded now, if any (settled), else undefined. */
  current?: Engine;

  get choice(): ModelChoice | undefined {
    return this.loadedChoice;
  }

  /** Loads the panel's current choice, replacing the engine there is. */
  load(): Promise<Engine> {
    const choice = this.choose();
    return this.chain(async () => choice);
  }

  /** The engine, loading the panel's choice if none is loaded, and reloading it if `need` tokens do not fit. */
  get(need = 0): Promise<Engine> {
    return this.chain(async (current) => {
      if (current && current.maxContext >= need) return undefined;
      const choice = current ? this.loadedChoice! : this.choose();
      if (current && choice.maxContext === 'auto') return undefined;
      return { ...choice, maxContext: typeof choice.maxContext === 'number' ? Math.max(choice.maxContext, need) : choice.maxContext };
    });
  }

  private chain(next: (current: Engine | undefined) => Promise<ModelChoice | undefined>): Promise<Engine> {
    this.loading = (async (previous) => {
      // the engine there is, whatever became of the last request (a failed load leaves the one before in place)
      await previous?.catch(() => undefined);
      const current = this.current;
      const choice = await next(current);
      if (!choice) return current!;
      this.current = undefined;
      await current?.dispose();
      await this.progress.start(choice).catch(() => undefined);
      const gpu = await this.pageDevice();
      const engine = await Engine.load({
        device: gpu.device,
        // a borrowed device carries no memory size of its own: the page's request found it
        gpuMemoryBytes: gpu.info.memoryBytes,
        model: choice.model,
        storage: choice.storage,
        kvDtype: choice.kvDtype,
        maxContext: choice.maxContext,
        // loading progress only: run events go to the request's own onProgress
        onProgress: (e) => {
          if (e.phase === 'download' || e.phase === 'weights') this.progress.on(e);
        },
      });
      this.progress.done();
      this.loadedChoice = choice;
      this.current = engine;
      for (const f of this.listeners) f(engine);
      return engine;
    })(this.loading);
    return this.loading;
  }

  // the page's device, requested on the first load; dropped once lost (or if the request failed), so the load
  // after it asks again
  private pageDevice(): ReturnType<typeof requestDevice> {
    if (this.device) return this.device;
    const d = requestDevice();
    this.device = d;
    const forget = () => {
      if (this.device === d) this.device = undefined;
    };
    d.then((h) => h.device.lost.then(forget), forget);
    return d;
  }
}
