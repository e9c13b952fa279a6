"""Checks scripts/train/model.py against transformers' LlamaForCausalLM on a model folder (f32, CPU):
the same weights must give the same logits. `python3 scripts/train/check_hf.py public/models/ruler-llama-tiny`"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Llama  # noqa: E402
from train import load_weights  # noqa: E402


def main(folder):
    from transformers import LlamaForCausalLM

    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    ours = Llama(cfg)
    load_weights(ours, folder, "*.safetensors")
    ours.eval()
    hf = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    torch.manual_seed(0)
    ids = torch.randint(0, cfg["vocab_size"], (2, 700))
    with torch.no_grad():
        a, b = ours(ids), hf(input_ids=ids).logits
    err = float((a - b).abs().max())
    print(f"{folder}: max |logits ours − transformers| = {err:.2e} over {tuple(a.shape)}")
    assert err < 1e-3, err


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "public/models/ruler-llama-tiny")
