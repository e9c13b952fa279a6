"""The native bar for the decode GEMVs: cuBLAS (through PyTorch) on the shapes of gemv_sweep.ts, same GPU.

Issue 14 asks for a decode GEMV at >= 70% of HBM bandwidth. Ours pay a fixed cost per dispatch; this measures
what a native stack pays on the same matrices, so the target can be read against what the GPU allows at each
size. Weights rotate through >= 512 MiB of copies (as in gemv_sweep.ts: no repetition finds its matrix in the
50 MB L2); a chain of `reps` launches is timed with CUDA events, eagerly and replayed from a CUDA graph (which
removes the CPU's launch cost and leaves only the GPU's own gap between kernels). GB/s of the weight bytes.
Usage: python3 scripts/bench/torch_gemv.py --out bench/results/torch_gemv.json
"""
import argparse
import json

import torch

torch.backends.cuda.matmul.allow_tf32 = False

SHAPES = [
    (2048, 2048, "1B q/o"),
    (8192, 2048, "1B gate/up"),
    (2048, 8192, "1B down"),
    (4096, 4096, "8B q/o"),
    (14336, 4096, "8B gate/up"),
    (4096, 14336, "8B down"),
    (128256, 2048, "1B LM head"),
]
HBM_GBPS = 4800


def chain_ms(ws, x, reps, graph):
    """ms per GEMV over a chain of `reps` launches, weights taken in turn from `ws`."""
    outs = [torch.empty(w.shape[0], device="cuda", dtype=x.dtype) for w in ws[:1]]
    out = outs[0]

    def run():
        for i in range(reps):
            torch.mv(ws[i % len(ws)], x, out=out)

    run()
    torch.cuda.synchronize()
    if graph:
        g = torch.cuda.CUDAGraph()
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            run()
        torch.cuda.current_stream().wait_stream(s)
        with torch.cuda.graph(g):
            run()
        fn = g.replay
    else:
        fn = run
    times = []
    for _ in range(5):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b) / reps)
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench/results/torch_gemv.json")
    ap.add_argument("--rotate-mib", type=int, default=512)
    args = ap.parse_args()
    rows = []
    for dtype, name in [(torch.float32, "f32"), (torch.bfloat16, "bf16"), (torch.float16, "f16")]:
        for n, k, what in SHAPES:
            bytes_ = n * k * torch.finfo(dtype).bits // 8
            copies = min(128, max(1, -(-args.rotate_mib * 2**20 // bytes_)))
            reps = max(copies, min(256, -(-(2**30) // bytes_)), 8)
            ws = [torch.randn(n, k, device="cuda", dtype=dtype) / k**0.5 for _ in range(copies)]
            x = torch.randn(k, device="cuda", dtype=dtype)
            for graph in (False, True):
                ms = chain_ms(ws, x, reps, graph)
                gbps = bytes_ / ms / 1e6
                rows.append(dict(dtype=name, shape=f"1x{n}x{k}", what=what, graph=graph, ms=ms, gbps=gbps,
                                 pct=100 * gbps / HBM_GBPS, copies=copies, reps=reps))
                print(f"torch {name:5s} 1x{n}x{k:<6d} {what:11s} {'graph' if graph else 'eager'} {ms * 1e3:8.1f} us "
                      f"{gbps:7.0f} GB/s {100 * gbps / HBM_GBPS:4.0f}%", flush=True)
            del ws, x
            torch.cuda.empty_cache()
    json.dump(dict(device=torch.cuda.get_device_name(), torch=torch.__version__, rows=rows), open(args.out, "w"),
              indent=2)


if __name__ == "__main__":
    main()
