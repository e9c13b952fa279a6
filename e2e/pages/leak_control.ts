// The control for the page's leak curve (issue 16, item 5): the engine's device cycle without the engine, so a
// growth of the renderer's memory there too is Chromium's (Blink's WebGPU objects, Dawn's wire client), not
// ours. `?suite=leak-control&run=page&filter=cycles:N,steps:S,modules:M`: each cycle requests a device as the
// engine does (src/gpu/device.ts), runs S compute submits each followed by a mapAsync readback
// (scripts/reliability/device_cycle.ts, as the Node control does), with modules:1 also hands every engine WGSL source to createShaderModule and awaits its
// compilation info (the shader text the engine sends per device), destroys the device, then awaits
// `window.__leakSample(cycle)` as leak_suite does. The same in Node: scripts/reliability/dawn_cycles.ts.
import { result, type CheckResult } from '../../src/gpu/checks/check';
import { requestDevice } from '../../src/gpu/device';
import { kShaders } from '../../src/gpu/shaders';
import { runDeviceSteps } from '../../scripts/reliability/device_cycle';
import type { Suite } from './suites';

const option = (filter: string, name: string, dflt: number) => Number(new RegExp(`${name}:(\\d+)`).exec(filter)?.[1] ?? dflt);

export const leakControl: Suite = async (_ctx, { filter, log }) => {
  const cycles = option(filter, 'cycles', 3);
  const steps = option(filter, 'steps', 24);
  const modules = option(filter, 'modules', 0) === 1;
  // upload:B writes B bytes of weights-like data per cycle, in 16 tensors' worth of writeBuffer calls (the
  // engine writes each tensor with one call: src/gpu/tensor.ts)
  const upload = option(filter, 'upload', 0);
  // fetch:1 downloads the tiny-llama fixture's files per cycle as the engine's URL source does (whole bodies)
  const fetchFiles = option(filter, 'fetch', 0) === 1;
  const out: CheckResult[] = [];
  for (let c = 0; c < cycles; c++) {
    const t0 = performance.now();
    const h = await requestDevice();
    const d = h.device;
    let compileErrors = 0;
    if (modules) {
      for (const code of Object.values(kShaders)) {
        const info = await d.createShaderModule({ code }).getCompilationInfo();
        compileErrors += info.messages.filter((m) => m.type === 'error').length;
      }
    }
    let fetched = 0;
    if (fetchFiles) {
      for (const name of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']) {
        const resp = await fetch(new URL(`/fixtures/tiny-llama/${name}`, location.href));
        fetched += new Uint8Array(await resp.arrayBuffer()).byteLength;
      }
    }
    if (upload > 0) {
      const piece = Math.ceil(upload / 16 / 4) * 4;
      for (let at = 0; at < upload; at += piece) {
        const w = d.createBuffer({ size: piece, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST }); // (piece / 4) f32
        d.queue.writeBuffer(w, 0, new Float32Array(piece / 4).fill(c));
        w.destroy();
      }
    }
    const first = await runDeviceSteps(d, steps);
    h.destroy();
    const sample = window.__leakSample ? await window.__leakSample(c) : {};
    const row = { cycle: c, request: (modules ? 'device + engine modules' : 'bare device') + (upload ? ` + ${upload} B uploaded` : '') + (fetchFiles ? ` + ${fetched} B fetched` : ''), aborted: false, steps, ms: Math.round(performance.now() - t0), ...sample };
    log(`leaks: ${JSON.stringify(row)}`);
    // x[0] = 1 · 0.5 + 0 after the first step: the device did the work
    out.push(result(`control cycle ${c}: first step's x[0] - 0.5`, Math.abs(first - 0.5), 0));
    out.push(result(`control cycle ${c}: WGSL compile errors`, compileErrors, 0));
  }
  return out;
};
