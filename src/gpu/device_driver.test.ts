// Issue 16, items 6 and 8: Dawn gets allow_unsafe_apis only when asked; the Vulkan driver is chosen before
// Dawn starts, so a machine without a usable driver goes straight to SwiftShader with one line naming the
// adapter and why, instead of the loader's and Dawn's own warnings (which --verbose brings back).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../model/fixtures';
import { dawnFlags, describeAdapter, kSwiftShaderSlowToggle, vulkanDriverManifests, type GpuInfo } from './device';
import { readF32 } from './readback';
import { testContext } from './testing';

describe("Dawn's flags", () => {
  it('carry allow_unsafe_apis only when asked, and each toggle only when asked', () => {
    expect(dawnFlags({}, {})).toEqual([]);
    expect(dawnFlags({ allowUnsafeApis: true }, {})).toEqual(['enable-dawn-features=allow_unsafe_apis']);
    expect(dawnFlags({ disableRobustness: true, adapterName: 'nvidia' }, {})).toEqual(['enable-dawn-features=disable_robustness', 'adapter=nvidia']);
    expect(dawnFlags({ allowUnsafeApis: true, disableRobustness: true }, {})).toEqual(['enable-dawn-features=allow_unsafe_apis,disable_robustness']);
  });

  it("turn Vulkan's workgroup zero-initialisation off on SwiftShader only (Tint zeroes it instead)", () => {
    const off = `disable-dawn-features=${kSwiftShaderSlowToggle}`;
    const swiftShader = '/usr/lib/chromium/vk_swiftshader_icd.json';
    expect(dawnFlags({}, { VK_ICD_FILENAMES: swiftShader })).toEqual([off]);
    expect(dawnFlags({ allowUnsafeApis: true }, { VK_DRIVER_FILES: swiftShader })).toEqual(['enable-dawn-features=allow_unsafe_apis', off]);
    // a hardware driver anywhere in the list, or added beside it, keeps Dawn's default
    expect(dawnFlags({}, { VK_ICD_FILENAMES: `/usr/share/vulkan/icd.d/nvidia_icd.json:${swiftShader}` })).toEqual([]);
    expect(dawnFlags({}, { VK_ICD_FILENAMES: swiftShader, VK_ADD_DRIVER_FILES: '/etc/vulkan/icd.d/radeon_icd.json' })).toEqual([]);
    expect(dawnFlags({}, { VK_ICD_FILENAMES: '/usr/share/vulkan/icd.d/nvidia_icd.json' })).toEqual([]);
  });

  it('add the toggles a benchmark names in STAR_ATTN_DAWN_ENABLE / _DISABLE', () => {
    const env = { STAR_ATTN_DAWN_ENABLE: 'a,b', STAR_ATTN_DAWN_DISABLE: 'c' };
    expect(dawnFlags({ disableRobustness: true }, env)).toEqual(['enable-dawn-features=disable_robustness,a,b', 'disable-dawn-features=c']);
    const swiftShader = { VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json', STAR_ATTN_DAWN_DISABLE: 'c' };
    expect(dawnFlags({}, swiftShader)).toEqual([`disable-dawn-features=${kSwiftShaderSlowToggle},c`]);
    expect(dawnFlags({}, { STAR_ATTN_DAWN_ENABLE: '' })).toEqual([]);
  });
});

describe('workgroup memory with the SwiftShader toggle', () => {
  it('still reads as zeros before any write (WebGPU requires it)', async () => {
    const ctx = await testContext();
    const device = ctx.device;
    // each workgroup reads its shared array before writing it, then dirties it for whichever runs next
    const module = device.createShaderModule({
      code: `
        var<workgroup> shared: array<vec4<f32>, 1024>;
        @group(0) @binding(0) var<storage, read_write> out: array<f32>;
        @compute @workgroup_size(64) fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) g: vec3<u32>) {
          var s = 0.0;
          for (var i = t; i < 1024u; i += 64u) { s += abs(shared[i].x) + abs(shared[i].y) + abs(shared[i].z) + abs(shared[i].w); }
          workgroupBarrier();
          for (var i = t; i < 1024u; i += 64u) { shared[i] = vec4<f32>(1.0 + f32(g.x)); }
          out[g.x * 64u + t] = s;
        }`,
    });
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const groups = 16;
    const out = device.createBuffer({ size: groups * 64 * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: out } }] }));
    pass.dispatchWorkgroups(groups);
    pass.end();
    device.queue.submit([enc.finish()]);
    const got = await readF32(device, out, 0, groups * 64);
    out.destroy();
    expect(got.length).toBe(groups * 64);
    expect(Math.max(...got)).toBe(0);
  });
});

/** A fake driver set in a folder of its own: Mesa's lavapipe and intel manifests (their libraries absent). */
function fakeMesa(): { dataDirs: string; home: string } {
  const root = mkdtempSync(join(tmpdir(), 'fake-vulkan-'));
  const icd = join(root, 'share', 'vulkan', 'icd.d');
  mkdirSync(icd, { recursive: true });
  const manifest = (lib: string) => JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: join(root, lib), api_version: '1.3.230' } });
  writeFileSync(join(icd, 'lvp_icd.x86_64.json'), manifest('libvulkan_lvp.so'));
  writeFileSync(join(icd, 'intel_icd.x86_64.json'), manifest('libvulkan_intel.so'));
  mkdirSync(join(root, 'home'));
  return { dataDirs: join(root, 'share'), home: join(root, 'home') };
}

describe('Vulkan driver choice (Node)', () => {
  it('finds the manifests where the loader looks', async () => {
    const { dataDirs, home } = fakeMesa();
    const found = await vulkanDriverManifests({ HOME: home, XDG_DATA_DIRS: dataDirs, XDG_CONFIG_DIRS: home });
    expect(found.map((m) => m.library)).toEqual(['libvulkan_intel.so', 'libvulkan_lvp.so']);
  });

  it('names the adapter and why in one line', () => {
    const info = { vendor: 'google', architecture: 'swiftshader', device: 'swiftshader-device-subzero-', description: '', driverNote: 'software fallback: x' };
    expect(describeAdapter(info as GpuInfo)).toBe('google swiftshader (software fallback: x)');
  });

  describe('the CLI', () => {
    beforeAll(() => {
      execFileSync(process.execPath, ['scripts/build.mjs', 'dist/cli'], { stdio: 'inherit' });
    });
    // --dry-run requests the engine's device (so the driver choice runs) and compiles nothing: ~1-3 s each
    const dryRun = (env: Record<string, string>, extra: string[] = []) => {
      const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(VK_|XDG_|STAR_ATTN_VERBOSE)/.test(k))) as Record<string, string>;
      return spawnSync(process.execPath, ['bin/star-attn.mjs', 'generate', '--model', fixturePath('tiny-llama'), '--prompt', 'hi', '--dry-run', ...extra], {
        encoding: 'utf8',
        env: { ...clean, ...env },
        timeout: 60_000,
      });
    };

    it('with Mesa installed but no GPU: one line naming SwiftShader and why, none of the drivers\' own messages', () => {
      const { dataDirs, home } = fakeMesa();
      const r = dryRun({ HOME: home, XDG_DATA_DIRS: dataDirs, XDG_CONFIG_DIRS: home });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr.trim().split('\n')).toEqual([
        'star-attn: GPU: google swiftshader (software fallback: no GPU device (/dev/dri/renderD*, /dev/nvidia*, /dev/dxg) for the 1 Vulkan driver(s) installed)',
      ]);
    });

    it('with no driver installed: the same one line, saying so', () => {
      const { home } = fakeMesa();
      const r = dryRun({ HOME: home, XDG_DATA_DIRS: home, XDG_CONFIG_DIRS: home });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr.trim().split('\n')).toEqual(['star-attn: GPU: google swiftshader (software fallback: no Vulkan driver is installed)']);
    });

    it('--verbose tries every installed driver, their own messages included, then falls back', () => {
      const { dataDirs, home } = fakeMesa();
      const r = dryRun({ HOME: home, XDG_DATA_DIRS: dataDirs, XDG_CONFIG_DIRS: home }, ['--verbose']);
      expect(r.status, r.stderr).toBe(0);
      const lines = r.stderr.trim().split('\n');
      expect(lines[0]).toMatch(/verbose: Dawn tries every installed Vulkan driver/);
      // the loader's or Dawn's own words about the drivers it could not use
      expect(lines.length).toBeGreaterThan(2);
      expect(lines.at(-1)).toMatch(/^star-attn: GPU: google swiftshader \(software fallback: no adapter from the installed Vulkan driver\(s\)\)$/);
    });
  });
});
