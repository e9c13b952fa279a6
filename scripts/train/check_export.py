"""An exported model folder through the engine's CLI against scripts/train/model.py's own forward: the last
position's logits for a fixed token sequence, global and Star Attention (context = all but the last 40
tokens, blocks of --block tokens), f32 on both sides (the engine reads the same bf16 weights).

    python3 scripts/train/check_export.py data/export [--len 600] [--block 128] [--cli "node dist/cli.mjs"]

On the GPU machine, after `source .gpu/setup.sh`: --cli "node dist/bench/cli.mjs". Exits 1 above --tol."""
import argparse
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Llama  # noqa: E402
from train import load_weights  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--len", type=int, default=600)
    ap.add_argument("--block", type=int, default=128)
    ap.add_argument("--cli", default="node dist/cli.mjs")
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--dense-below", type=int, default=0, help="our Star rows up to this length use the dense mask "
                    "(default 0: the block-by-block path the long training rows take)")
    a = ap.parse_args()
    import model as M

    M.STAR_DENSE_BELOW = a.dense_below
    with open(os.path.join(a.model, "config.json")) as f:
        cfg = json.load(f)
    model = Llama(cfg)
    load_weights(model, a.model, "*.safetensors")
    model.eval()
    rng = random.Random(1)
    ids = [cfg["bos_token_id"]] + [rng.randrange(cfg["vocab_size"] - 2) for _ in range(a.len - 1)]
    ctx = a.len - 40
    worst = 0.0
    for name, spec, flags in [
        ("global", ("causal",), []),
        (f"star b={a.block}", ("star", [ctx], [a.block]),
         ["--attention", "star", "--context-len", str(ctx), "--block-size", str(a.block)]),
    ]:
        with torch.no_grad():
            ours = model(torch.tensor([ids]), spec)[0, -1]
        cmd = shlex.split(a.cli) + ["logits", "--model", a.model, "--ids", ",".join(map(str, ids)), "--json"] + flags
        # stdout to a file: Node writes a pipe asynchronously and the CLI's exit can cut it at 64 KiB
        with tempfile.TemporaryFile("w+") as f:
            out = subprocess.run(cmd, stdout=f, stderr=subprocess.PIPE, text=True)
            f.seek(0)
            text = f.read()
        if out.returncode != 0:
            sys.exit(f"{' '.join(cmd[:6])} … failed:\n{out.stderr[-2000:]}")
        line = [x for x in text.splitlines() if x.startswith("{")][-1]
        eng = torch.tensor(json.loads(line)["logits"])
        err = float((eng - ours).abs().max())
        same = int(eng.argmax()) == int(ours.argmax())
        worst = max(worst, err)
        print(f"{name}: max |engine − train.py| = {err:.2e} over {eng.numel()} logits, argmax {'equal' if same else 'DIFFERS'} "
              f"(logit range {float(ours.min()):.2f}…{float(ours.max()):.2f})", flush=True)
    if worst > a.tol:
        sys.exit(f"FAIL: {worst:.2e} > {a.tol}")
    print("export check passed")


if __name__ == "__main__":
    main()
