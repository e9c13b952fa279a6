// The only module that imports WGSL. Vite (and Vitest) load `?raw` as a string; the esbuild bundles
// for Node use the same `?raw` plugin (scripts/build.mjs).
import add from '../../shaders/add.wgsl?raw';
import fill_random from '../../shaders/fill_random.wgsl?raw';
// ---- linear algebra and elementwise
import matmul_gemm from '../../shaders/matmul_gemm.wgsl?raw';
import matmul_gemv from '../../shaders/matmul_gemv.wgsl?raw';
import matmul_gemm_v3 from '../../shaders/matmul_gemm_v3.wgsl?raw';
import matmul_gemv_q from '../../shaders/matmul_gemv_q.wgsl?raw';
import matmul_gemv_v4 from '../../shaders/matmul_gemv_v4.wgsl?raw';
import matmul_gemv_v4sg from '../../shaders/matmul_gemv_v4sg.wgsl?raw';
import matmul_gemv_v4r2 from '../../shaders/matmul_gemv_v4r2.wgsl?raw';
import matmul_gemv_qv4 from '../../shaders/matmul_gemv_qv4.wgsl?raw';
import matmul_gemv_qi8 from '../../shaders/matmul_gemv_qi8.wgsl?raw';
import quantize_x8 from '../../shaders/quantize_x8.wgsl?raw';
import matmul_gemm_q from '../../shaders/matmul_gemm_q.wgsl?raw';
import rmsnorm from '../../shaders/rmsnorm.wgsl?raw';
import rope from '../../shaders/rope.wgsl?raw';
import silu_mul from '../../shaders/silu_mul.wgsl?raw';
import embedding from '../../shaders/embedding.wgsl?raw';
import argmax from '../../shaders/argmax.wgsl?raw';
import sample from '../../shaders/sample.wgsl?raw';
// ---- attention
import attention from '../../shaders/attention.wgsl?raw';
import attention_decode from '../../shaders/attention_decode.wgsl?raw';
import attention_merge from '../../shaders/attention_merge.wgsl?raw';
import attention_splitkv from '../../shaders/attention_splitkv.wgsl?raw';
import attention_merge_wide from '../../shaders/attention_merge_wide.wgsl?raw';
import attention_splitkv_sg from '../../shaders/attention_splitkv_sg.wgsl?raw';
import kv_store from '../../shaders/kv_store.wgsl?raw';
// ---- fused decode steps
import decode_qkv from '../../shaders/decode_qkv.wgsl?raw';
import decode_gate_up from '../../shaders/decode_gate_up.wgsl?raw';
import decode_qkv_v4 from '../../shaders/decode_qkv_v4.wgsl?raw';
import decode_gate_up_v4 from '../../shaders/decode_gate_up_v4.wgsl?raw';
import decode_qkv_q from '../../shaders/decode_qkv_q.wgsl?raw';
import decode_gate_up_q from '../../shaders/decode_gate_up_q.wgsl?raw';

export const kShaders = {
  add,
  fill_random,
  // ---- linear algebra and elementwise
  matmul_gemm,
  matmul_gemv,
  matmul_gemm_v3,
  matmul_gemv_q,
  matmul_gemv_v4,
  matmul_gemv_v4sg,
  matmul_gemv_v4r2,
  matmul_gemv_qv4,
  matmul_gemv_qi8,
  quantize_x8,
  matmul_gemm_q,
  rmsnorm,
  rope,
  silu_mul,
  embedding,
  argmax,
  sample,
  // ---- attention
  attention,
  attention_decode,
  attention_merge,
  attention_splitkv,
  attention_merge_wide,
  attention_splitkv_sg,
  kv_store,
  // ---- fused decode steps
  decode_qkv,
  decode_gate_up,
  decode_qkv_v4,
  decode_gate_up_v4,
  decode_qkv_q,
  decode_gate_up_q,
} as const;

export type ShaderName = keyof typeof kShaders;
