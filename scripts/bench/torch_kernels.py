"""PyTorch's numbers for the same kernel shapes on the same GPU (run beside dist/bench/kernels.mjs).

fp32 with TF32 off (the WebGPU kernels compute in f32 without tensor cores), CUDA events, median of reps.
Usage: python3 scripts/bench/torch_kernels.py --out bench/results/torch_kernels.json
"""
import argparse
import json
import torch
import torch.nn.functional as F

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


def time_ms(fn, reps=10, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench/results/torch_kernels.json")
    args = ap.parse_args()
    dev = "cuda"
    rows = []

    def report(kernel, shape, ms, tflops=None, gbps=None):
        rows.append(dict(kernel=kernel, shape=shape, ms=ms, tflops=tflops, gbps=gbps))
        val = f"{tflops:7.2f} TFLOP/s" if tflops is not None else f"{gbps:7.1f} GB/s"
        print(f"torch {kernel:24s} {shape:28s} {ms:9.3f} ms {val}", flush=True)

    for n in [2048, 4096, 8192]:
        a = torch.randn(n, n, device=dev)
        w = torch.randn(n, n, device=dev)
        ms = time_ms(lambda: a @ w.T)
        report("matmul f32", f"{n}x{n}x{n}", ms, tflops=2 * n**3 / ms / 1e9)
        wb = w.to(torch.bfloat16)
        ms = time_ms(lambda: a @ wb.T.float())
        report("matmul bf16->f32", f"{n}x{n}x{n}", ms, tflops=2 * n**3 / ms / 1e9)
    x = torch.randn(1, 4096, device=dev)
    w = torch.randn(4096, 4096, device=dev)
    ms = time_ms(lambda: x @ w.T, reps=50)
    report("gemv f32", "1x4096x4096", ms, gbps=w.numel() * 4 / ms / 1e6)

    H, D = 32, 64
    for S in [4096, 16384, 65536]:
        T = min(S, 4096)
        q = torch.randn(1, H, T, D, device=dev)
        k = torch.randn(1, H, S, D, device=dev)
        v = torch.randn(1, H, S, D, device=dev)
        # causal with the queries at the end of the sequence (bottom-right), like chunked prefill
        mask = torch.ones(T, S, dtype=torch.bool, device=dev).tril(diagonal=S - T)
        ms = time_ms(lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask), reps=5)
        pairs = T * (S - T) + T * (T + 1) / 2
        report("sdpa causal f32", f"T={T} S={S} h={H}x{D}", ms, tflops=4 * pairs * H * D / ms / 1e9)
        del q, k, v, mask
    for S in [32768, 131072]:
        q = torch.randn(1, H, 1, D, device=dev)
        k = torch.randn(1, 8, S, D, device=dev)
        v = torch.randn(1, 8, S, D, device=dev)
        ms = time_ms(lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True), reps=20)
        report("sdpa decode f32", f"S={S} h={H}/8x{D}", ms, gbps=2 * S * 8 * D * 4 / ms / 1e6)
    json.dump(dict(device=torch.cuda.get_device_name(), torch=torch.__version__, rows=rows), open(args.out, "w"), indent=2)


if __name__ == "__main__":
    main()
