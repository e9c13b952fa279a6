#!/usr/bin/env python3
"""Trains the bundled RULER model (public/models/ruler-llama-tiny) on data from scripts/train/make_data.ts.

A small Llama (scripts/train/model.py, transformers' tensor names) taught RULER's self-contained tasks and
QA on generated documents, in wall-clock slices (--minutes) of one schedule (--total-minutes) that resume
exactly from a full checkpoint (weights, AdamW, step, schedule, RNG, data position) when the machine kept
it, else from a compact one (bf16 weights, the same state; fresh AdamW moments). See scripts/train/README.md.

    # one training slice (GPU); later slices add --resume
    python3 scripts/train/train.py --data data/v2 --tokenizer public/models/ruler-llama-tiny --run data/run \\
        --init-from public/models/ruler-llama-tiny --minutes 8.5 --total-minutes 24 --save-compact $OUT/ckpt
    # export from a compact checkpoint (CPU)
    python3 scripts/train/train.py --tokenizer data/tokenizer --resume-from data/ckpt --minutes 0 \\
        --device cpu --export public/models/ruler-llama-tiny

Loss: every position is trained (dense supervision), split in two means: context/question tokens
(weight --ctx-loss) and answer tokens (the target after the answer prefix, and EOS; weight 1), so the few
answer tokens keep a fixed share of the gradient however long the haystack. NIAH samples also get extra
questions about other needles of the same haystack after the first answer (up to --extra-queries), and
every use re-draws needle values / names / coded words consistently (--augment), so repeated haystacks
never repeat an answer.
"""

import argparse
import glob
import json
import math
import multiprocessing as mp
import os
import queue
import random
import re
import shutil
import sys
import time

import numpy as np

# batch shapes change every step (length buckets): the CUDA allocator grows segments instead of fragmenting
os.environ.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import (BOS, EOS, KIND_ANS, KIND_CTX, PART_METRIC, TASKS, build_examples, bucket_of,  # noqa: E402
                  data_files, load_tokenizer, producer, read_records, train_tokenizer)
from model import Llama, init_weights, llama_config  # noqa: E402

# ---------------------------------------------------------------------------------------------------------
# evaluation: greedy decoding, RULER's string_match_all / string_match_part


def postprocess(pred):
    return re.sub(r"[\x00-\x1f]", "\n", pred.strip()).strip()


def score(task, pred, outputs):
    p = postprocess(pred).lower()
    hits = [o.lower() in p for o in outputs]
    return 100.0 * (max(hits) if task in PART_METRIC else sum(hits) / len(hits))


def autocast(device):
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


@torch.no_grad()
def greedy(model, prompts, ctx_lens, max_new, eos_id, device, blocks=None):
    """Greedy continuations with a KV cache: each prompt prefilled alone (global: causal; Star: the phase-1
    mask for context tokens, so its cache holds exactly Star's context KV), then all decoded together, each
    new token seeing every earlier one (Star's phase 2). Stops at EOS."""
    rows = len(prompts)
    lens = [len(p) for p in prompts]
    n_layers = len(model.model.layers)
    kc = vc = None
    last = []
    for r, p in enumerate(prompts):
        caches = [[] for _ in range(n_layers)]
        spec = ("star", [ctx_lens[r]], [blocks[r]]) if blocks is not None else ("causal",)
        with autocast(device):
            h = model.hidden(torch.tensor([p], device=device), spec, caches=caches)
            last.append(model.logits(h[:, -1]).float())
        if kc is None:
            k0 = caches[0][0][0]
            shape = (rows, k0.shape[1], max(lens) + max_new + 1, k0.shape[3])
            kc = [torch.zeros(shape, dtype=k0.dtype, device=device) for _ in range(n_layers)]
            vc = [torch.zeros(shape, dtype=k0.dtype, device=device) for _ in range(n_layers)]
        for li, ((k, v),) in enumerate(caches):
            kc[li][r, :, : lens[r]] = k[0]
            vc[li][r, :, : lens[r]] = v[0]
    logits = torch.cat(last, 0)
    pos = torch.tensor(lens, device=device)
    out = [[] for _ in range(rows)]
    done = torch.zeros(rows, dtype=torch.bool, device=device)
    for _ in range(max_new):
        nxt = logits.argmax(-1)
        done |= nxt == eos_id
        for r, t in enumerate(nxt.tolist()):
            if not done[r]:
                out[r].append(t)
        if bool(done.all()):
            break
        with autocast(device):
            h = model.hidden(nxt[:, None], ("decode", pos), pos=pos[:, None], caches=list(zip(kc, vc)))
            logits = model.logits(h[:, -1]).float()
        pos = pos + 1
    return out


@torch.no_grad()
def greedy_recompute(model, prompts, ctx_lens, max_new, eos_id, device, blocks=None):
    """Reference for greedy(): one prompt at a time, the whole sequence recomputed at every step under a
    dense causal or Star mask (model.star_dense_mask). Slow; used by --check-eval."""
    import model as M

    outs = []
    for r, p in enumerate(prompts):
        seq, gen = list(p), []
        for _ in range(max_new):
            x = torch.tensor([seq], device=device)
            # a Star row computed with the dense mask whatever its length (dense_below = ∞)
            spec = ("star", [ctx_lens[r]], [blocks[r]]) if blocks is not None else ("causal",)
            with M.attention_paths("sdpa", dense_below=1 << 30), autocast(device):
                lg = model(x, spec)
            nxt = int(lg[0, -1].argmax())
            if nxt == eos_id:
                break
            gen.append(nxt)
            seq.append(nxt)
        outs.append(gen)
    return outs


def evaluate(model, heldout, tok, lengths, n_samples, star, device, eos_id, bos_id, batch_rows, decode=greedy,
             stop_at=None):
    """{config: {length: {task: score, "avg": mean}}} on the first n_samples held-out samples per task;
    star: [(div, lengths)] → configs star(L/div). (config, length) pairs not started by stop_at are left out."""
    model.eval()
    res = {}
    configs = [("global", None, lengths)] + [(f"star(L/{d})", d, lens) for d, lens in star]
    for name, div, lens in configs:
        res[name] = {}
        for length in lens:
            if stop_at is not None and time.time() > stop_at:
                print(f"  eval {name} L={length}: skipped (out of time)", flush=True)
                continue
            scores = {}
            for task in TASKS:
                recs = [r for r in heldout.get(length, []) if r["task"] == task][:n_samples]
                if not recs:
                    continue
                vals = []
                rows = max(1, min(batch_rows, (1 << 19) // length))
                for s in range(0, len(recs), rows):
                    part = recs[s:s + rows]
                    exs = build_examples(part, tok, bos_id, eos_id)
                    n_ans = [int((e[1] == KIND_ANS).sum()) for e in exs]
                    prompts = [e[0][: len(e[0]) - k].tolist() for e, k in zip(exs, n_ans)]
                    blocks = [max(1, r["max_length"] // div) for r in part] if div else None
                    gen = decode(model, prompts, [e[2] for e in exs], max(n_ans) + 4, eos_id, device, blocks)
                    vals += [score(task, tok.decode(g, skip_special_tokens=True), r["outputs"]) for g, r in zip(gen, part)]
                scores[task] = round(sum(vals) / len(vals), 2)
            if scores:
                scores["avg"] = round(sum(scores.values()) / len(scores), 2)
                res[name][str(length)] = scores
    model.train()
    return res


def format_eval(res):
    lines = []
    for name, by_len in res.items():
        for length, s in by_len.items():
            cells = " ".join(f"{t.replace('niah_', '')}={v:.0f}" for t, v in s.items() if t != "avg")
            lines.append(f"  eval {name} L={length}: avg {s['avg']:.1f} | {cells}")
    return "\n".join(lines)


def parse_star_evals(spec):
    """'4:4096,16384;16:16384' → [(4, [4096, 16384]), (16, [16384])]."""
    out = []
    for part in filter(None, spec.split(";")):
        d, lens = part.split(":")
        out.append((int(d), [int(x) for x in lens.split(",") if x]))
    return out


# ---------------------------------------------------------------------------------------------------------
# checkpoints and export


def rng_state(main_rng):
    return {"python": [main_rng.getstate()[0], list(main_rng.getstate()[1]), main_rng.getstate()[2]],
            "torch": torch.get_rng_state().tolist()}


def set_rng_state(main_rng, st):
    if st:
        main_rng.setstate((st["python"][0], tuple(st["python"][1]), st["python"][2]))
        torch.set_rng_state(torch.tensor(st["torch"], dtype=torch.uint8))


def save_compact(model, state, out_dir):
    """bf16 weights in shards ≤ 15 MB (files back from the GPU machine are ≤ 16 MiB) + config.json + state.json
    (step, tokens, seconds, schedule, data cursors, RNG); --resume-from loads it with fresh AdamW moments."""
    from safetensors.torch import save_file

    os.makedirs(out_dir, exist_ok=True)
    for f in glob.glob(os.path.join(out_dir, "weights-*.safetensors")):
        os.remove(f)
    sd = {k: v.detach().to(torch.bfloat16).contiguous().cpu() for k, v in model.state_dict().items()}
    shards, cur, size = [], {}, 0
    for k, v in sd.items():
        n = v.numel() * 2
        if cur and size + n > 15_000_000:
            shards.append(cur)
            cur, size = {}, 0
        cur[k] = v
        size += n
    shards.append(cur)
    for i, sh in enumerate(shards):
        save_file(sh, os.path.join(out_dir, f"weights-{i:02d}.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(model.cfg, f, indent=2)
    with open(os.path.join(out_dir, "state.json"), "w") as f:
        json.dump(state, f)


def load_weights(model, folder, pattern):
    """Weights from a folder's safetensors (compact shards or an exported model: the same names)."""
    from safetensors.torch import load_file

    files = sorted(glob.glob(os.path.join(folder, pattern)))
    if not files:
        sys.exit(f"no {pattern} in {folder}")
    sd = {}
    for f in files:
        sd.update(load_file(f))
    sd.pop("lm_head.weight", None)  # tied
    missing, unexpected = model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=False)
    if missing or unexpected:
        sys.exit(f"{folder} does not match the model: missing {missing}, unexpected {unexpected}")


def export(model, tok_dir, out_dir):
    """The shipped model: config.json, model.safetensors (bf16), generation_config.json, tokenizer files."""
    from safetensors.torch import save_file

    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    sd = {k: v.detach().to(torch.bfloat16).contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    os.chmod(os.path.join(out_dir, "model.safetensors"), 0o644)
    cfg = model.cfg
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": cfg["bos_token_id"], "do_sample": False, "eos_token_id": cfg["eos_token_id"]}, f, indent=2)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tok_dir, name), os.path.join(out_dir, name))
    total = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
    print(f"exported to {out_dir}: {sorted(os.listdir(out_dir))}, {total / 1e6:.1f} MB", flush=True)


def dump_logits(model, ids, out_path, ctx_len=None, block=None):
    """f32 logits of the last position for token ids (global, or Star with context ctx_len and blocks of
    block), for comparing with `star-attn logits --json` (scripts/train/check_export.py)."""
    model.eval()
    x = torch.tensor([ids])
    spec = ("star", [ctx_len], [block]) if block else ("causal",)
    with torch.no_grad():
        lg = model.float()(x, spec)[0, -1]
    with open(out_path, "w") as f:
        json.dump({"ids": ids, "ctx_len": ctx_len, "block": block, "logits": lg.tolist()}, f)


# ---------------------------------------------------------------------------------------------------------
# schedule


def parse_curriculum(spec):
    """'0:1024,0.1:2048,…' → [(progress, cap)] sorted."""
    return sorted((float(a), int(b)) for a, b in (p.split(":") for p in spec.split(",")))


def choose_bucket(progress, curriculum, buckets, top_frac, rng):
    cap = max([c for p, c in curriculum if p <= progress] or [curriculum[0][1]])
    allowed = [b for b in buckets if b <= cap] or [min(buckets)]
    top = max(allowed)
    rest = [b for b in allowed if b != top]
    if not rest or rng.random() < top_frac:
        return top
    return rng.choice(rest)


def lr_at(args, step, progress, steps_since_start, cold):
    warm = min(1.0, (step + 1) / args.warmup_steps)
    if cold:  # resumed without optimizer moments
        warm = min(warm, (steps_since_start + 1) / 50)
    p = min(1.0, progress)
    cos = args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * p))
    return args.lr * warm * cos


# ---------------------------------------------------------------------------------------------------------
# main


def build_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/v2", help="folder of train-*.jsonl.gz and heldout-*.jsonl.gz")
    ap.add_argument("--tokenizer", default="data/tokenizer", help="tokenizer folder (trained from --data if absent)")
    ap.add_argument("--tokenizer-only", action="store_true", help="train/save the tokenizer, exit")
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--run", default="data/run", help="full checkpoint (ckpt.pt) and metrics.jsonl")
    ap.add_argument("--resume", action="store_true", help="continue from --run/ckpt.pt, else from --resume-from")
    ap.add_argument("--resume-from", help="compact checkpoint folder (from --save-compact) when ckpt.pt is absent")
    ap.add_argument("--resume-weights", help="take --resume-from's weights from this folder's *.safetensors instead")
    ap.add_argument("--init-from", help="start a new run from this model folder's weights (e.g. the shipped model)")
    ap.add_argument("--save-compact", help="also write the compact checkpoint here (e.g. $OUT/ckpt)")
    ap.add_argument("--export", help="write the shipped model folder here at the end")
    ap.add_argument("--dump-logits", help="write the final model's f32 logits for --dump-ids to this JSON (export check)")
    ap.add_argument("--dump-ids", default="", help="comma-separated token ids for --dump-logits")
    ap.add_argument("--dump-star", default="", help="ctx_len,block for a Star --dump-logits")
    ap.add_argument("--minutes", type=float, default=8.5, help="wall-clock budget of this call (startup, evals included)")
    ap.add_argument("--until", type=float, default=0, help="also stop by this Unix time (e.g. the call's start + 565 s)")
    ap.add_argument("--total-minutes", type=float, default=24.0, help="training time of the whole schedule (all calls)")
    ap.add_argument("--reserve", type=float, default=80.0, help="seconds kept for the final eval and saving")
    ap.add_argument("--schedule-steps", type=int, default=0,
                    help="schedule by steps instead of seconds: progress = steps / this (reproducible; used by the dry run)")
    ap.add_argument("--last-call", action="store_true",
                    help="this call ends the schedule: --total-minutes is set so that the LR decay ends at the deadline")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps in this call (0: no limit)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seed", type=int, default=0)
    # model (a new run only; a resumed or initialised one takes the checkpoint's config)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--rope-theta", type=float, default=500000.0)
    ap.add_argument("--max-pos", type=int, default=32768)
    # optimisation
    ap.add_argument("--tokens-per-step", type=int, default=65536)
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup-steps", type=int, default=100)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--ctx-loss", type=float, default=0.3, help="weight of the context/question token loss")
    ap.add_argument("--extra-queries", type=int, default=8)
    ap.add_argument("--no-augment", action="store_true")
    ap.add_argument("--cwe-order", default="shuffle", choices=["shuffle", "first"],
                    help="order of the 10 words in CWE answers: a fresh random one per use, or first occurrence")
    ap.add_argument("--curriculum", default="0:16384,0.3:32768",
                    help="progress:max-length steps; progress = training seconds / total")
    ap.add_argument("--top-frac", type=float, default=0.4, help="share of steps at the longest allowed bucket")
    ap.add_argument("--star-frac", type=float, default=0.3, help="share of steps ≥ --star-min-bucket with a Star Attention mask")
    ap.add_argument("--star-min-bucket", type=int, default=1024, help="shortest bucket that gets Star Attention masks")
    ap.add_argument("--star-divs", default="2,4,8,16,32", help="Star blocks are context/k for k drawn from this list (≥ 64)")
    ap.add_argument("--restart-schedule", action="store_true",
                    help="this call starts a new schedule of --total-minutes from the resumed weights")
    ap.add_argument("--workers", type=int, default=0, help="producer processes per bucket (0: from the CPU count)")
    ap.add_argument("--pad-multiple", type=int, default=64,
                    help="pad each batch's rows to a multiple of this (same batches; coarser: fewer distinct shapes)")
    ap.add_argument("--profile-steps", type=int, default=0,
                    help="time each part of this many steps (after 10), the GPU synchronized between parts, then print")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (untested)")
    # evaluation
    ap.add_argument("--eval-every", type=float, default=200.0, help="seconds of training between evals")
    ap.add_argument("--eval-lengths", default="4096,32768")
    ap.add_argument("--eval-star", default="4:32768", help="Star evals, 'div:lengths;…' (L/div blocks)")
    ap.add_argument("--eval-samples", type=int, default=8)
    ap.add_argument("--final-eval-lengths", default="1024,4096,16384,32768",
                    help="the last call: 1024,2048,4096,8192,16384,32768 (README)")
    ap.add_argument("--final-eval-star", default="4:4096,32768;16:32768")
    ap.add_argument("--final-eval-samples", type=int, default=8)
    ap.add_argument("--eval-rows", type=int, default=16)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--star-dense-below", type=int, default=4096,
                    help="Star rows up to this many tokens use one dense mask, longer ones go block by block")
    ap.add_argument("--attn-path", choices=["sdpa", "varlen"], default="varlen",
                    help="'varlen': global and Star batches as packed sequences (Star: each row's anchor, blocks and "
                         "tail), one flash-attention call a layer, no mask; 'sdpa': SDPA's causal flag, and for Star "
                         "a dense mask up to --star-dense-below, block by block above (6-45x slower Star steps)")
    ap.add_argument("--bench", action="store_true", help="time training steps at --bench-lengths (random model), exit")
    ap.add_argument("--bench-lengths", default="1024,8192,16384,32768")
    ap.add_argument("--check-eval", action="store_true",
                    help="compare the KV-cache greedy decoder with a full-recompute one on a few held-out samples, exit")
    return ap


def main():
    args = build_args().parse_args()
    import model as M

    # the attention paths against each other on the CPU in float64 (a second or two): a broken Star path stops
    # the call here, before any device time goes to training on it
    M.self_test()
    M.STAR_DENSE_BELOW = args.star_dense_below
    M.ATTN_PATH = args.attn_path
    if args.attn_path == "varlen" and torch.device(args.device).type == "cuda" and not args.check_eval:
        err = M.check_varlen_gpu(torch.device(args.device))
        print(f"star varlen (flash) vs dense mask on the GPU: outputs and q/k/v gradients within {err:.1e}", flush=True)
        if not err < 2e-2:
            sys.exit(f"--attn-path varlen: the flash path differs from the dense mask by {err:.1e} on this GPU; "
                     "use --attn-path sdpa")
    if args.bench:
        bench(args, torch.device(args.device))
        return
    t_start = time.time()
    deadline = t_start + args.minutes * 60
    if args.until:  # the call's own clock: data generation before this process counts too
        deadline = min(deadline, args.until)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    torch.set_float32_matmul_precision("high")  # the few f32 matmuls (autocast does the rest in bf16)

    if not os.path.exists(os.path.join(args.tokenizer, "tokenizer.json")):
        train_tokenizer(args.data, args.tokenizer, args.vocab)
    if args.tokenizer_only:
        return
    tok = load_tokenizer(args.tokenizer)
    bos_id, eos_id = tok.token_to_id(BOS), tok.token_to_id(EOS)
    vocab_size = (tok.get_vocab_size() + 63) // 64 * 64

    # what is resumed decides the architecture: ckpt.pt, else the compact checkpoint, else --init-from's config
    os.makedirs(args.run, exist_ok=True)
    ckpt_path = os.path.join(args.run, "ckpt.pt")
    compact_step = -1
    if args.resume_from:
        with open(os.path.join(args.resume_from, "state.json")) as f:
            compact_step = json.load(f)["step"]
    full = torch.load(ckpt_path, map_location="cpu", weights_only=False) if args.resume and os.path.exists(ckpt_path) else None
    if full is not None and full["state"]["step"] < compact_step:
        full = None
    cfg = full["config"] if full is not None else None
    for src in (args.resume_from, args.init_from):
        if cfg is None and src:
            with open(os.path.join(src, "config.json")) as f:
                cfg = json.load(f)
    if cfg is None:
        cfg = llama_config(vocab_size, args.dim, args.layers, args.heads, args.kv_heads, args.hidden, args.rope_theta,
                           args.max_pos, bos_id, eos_id)
    cfg = {k: v for k, v in cfg.items() if k != "transformers_version"}
    model = Llama(cfg)
    if full is None and not args.resume_from and not args.init_from:
        init_weights(model)
    model.to(device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f}M params (tied embeddings), dim {cfg['hidden_size']}, {cfg['num_hidden_layers']} layers, "
          f"{cfg['num_attention_heads']}/{cfg['num_key_value_heads']} heads, hidden {cfg['intermediate_size']}, "
          f"vocab {cfg['vocab_size']}, RoPE θ {cfg['rope_parameters']['rope_theta']:g}, device {device}, torch {torch.__version__}",
          flush=True)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=device.type == "cuda")
    state = {"step": 0, "tokens": 0, "train_seconds": 0.0, "calls": 0, "origin": 0.0, "cursors": {}, "rng": None}
    cold = False
    if full is not None:
        model.load_state_dict(full["model"])
        opt.load_state_dict(full["opt"])
        state = full["state"]
        print(f"resumed {ckpt_path} exactly: step {state['step']}, {state['train_seconds']:.0f} s trained", flush=True)
    elif args.resume_from:
        if args.resume_weights:  # e.g. the compact weights exported over the model folder (README: cold call)
            load_weights(model, args.resume_weights, "*.safetensors")
        else:
            load_weights(model, args.resume_from, "weights-*.safetensors")
        with open(os.path.join(args.resume_from, "state.json")) as f:
            state = json.load(f)
        cold = True
        src = os.path.join(args.resume_from, "metrics.jsonl")
        if os.path.exists(src) and os.path.abspath(src) != os.path.abspath(os.path.join(args.run, "metrics.jsonl")):
            shutil.copy(src, os.path.join(args.run, "metrics.jsonl"))
        print(f"resumed compact {args.resume_from}: step {state['step']}, {state['train_seconds']:.0f} s trained "
              f"(bf16 weights, fresh AdamW moments, 50-step re-warmup; data position and RNG restored)", flush=True)
    elif args.init_from:
        load_weights(model, args.init_from, "*.safetensors")
        print(f"initialised from {args.init_from}", flush=True)
    elif args.resume:
        print("no checkpoint to resume: starting fresh", flush=True)
    del full
    state["calls"] += 1
    if args.restart_schedule:
        state["origin"], state["origin_step"] = state["train_seconds"], state["step"]
    main_rng = random.Random(args.seed)
    set_rng_state(main_rng, state.get("rng"))

    metrics_path = os.path.join(args.run, "metrics.jsonl")

    def log_metrics(rec):
        with open(metrics_path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        if args.save_compact:
            os.makedirs(args.save_compact, exist_ok=True)
            shutil.copy(metrics_path, os.path.join(args.save_compact, "metrics.jsonl"))

    heldout = {}
    for f in data_files(args.data, "heldout"):
        for r in read_records([f]):
            heldout.setdefault(r["max_length"], []).append(r)

    def run_eval(lengths, n, star):
        t0 = time.time()
        # the call's command timeout is some way past --minutes: leave the last evals out rather than be killed
        res = evaluate(model, heldout, tok, lengths, n, star, device, eos_id, bos_id, args.eval_rows,
                       stop_at=deadline - 15 if args.minutes > 0 else None)
        print(format_eval(res) + f"\n  ({time.time() - t0:.0f} s)", flush=True)
        log_metrics({"type": "eval", "step": state["step"], "tokens": state["tokens"],
                     "train_seconds": round(state["train_seconds"], 1), "eval": res})
        return res

    if args.check_eval:
        check_eval(model, heldout, tok, device, eos_id, bos_id)
        return

    def save():
        state["rng"] = rng_state(main_rng)
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": state, "args": vars(args),
                    "config": model.cfg}, ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)
        if args.save_compact:
            save_compact(model, state, args.save_compact)

    if args.minutes > 0 and (args.max_steps > 0 or deadline - time.time() > args.reserve + 10):
        train(args, model, opt, state, cold, device, deadline, log_metrics, run_eval, save, main_rng)
        save()
    if heldout and args.minutes > 0 and args.final_eval_samples > 0:
        run_eval([int(x) for x in args.final_eval_lengths.split(",") if x], args.final_eval_samples,
                 parse_star_evals(args.final_eval_star))
    if args.export:
        export(model.float().cpu(), args.tokenizer, args.export)
    if args.dump_logits:
        ids = [int(x) for x in args.dump_ids.split(",") if x]
        star = [int(x) for x in args.dump_star.split(",") if x]
        dump_logits(model.cpu(), ids, args.dump_logits, *(star or [None, None]))
    print(f"done in {time.time() - t_start:.0f} s: step {state['step']}, {state['tokens'] / 1e6:.1f}M tokens, "
          f"{state['train_seconds']:.0f} s trained", flush=True)


def train(args, model, opt, state, cold, device, deadline, log_metrics, run_eval, save, rng):
    files = data_files(args.data, "train")
    if not files:
        sys.exit(f"no training files in {args.data}")
    by_bucket = {}
    for f in files:
        by_bucket.setdefault(bucket_of(f), []).append(f)
    buckets = sorted(by_bucket)
    curriculum = parse_curriculum(args.curriculum)
    # the data stream is a function of (seed, bucket, pool, workers): a resumed run keeps the first call's
    # worker count and tokens per step, so its cursors point at the same batches
    stream = state.setdefault("stream", {"workers": args.workers or (3 if (os.cpu_count() or 2) >= 12 else 1),
                                         "tokens_per_step": args.tokens_per_step, "seed": args.seed,
                                         "files": {str(b): len(by_bucket[b]) for b in buckets}})
    if stream["files"] != {str(b): len(by_bucket[b]) for b in buckets}:
        print(f"WARNING: the data differ from the run's ({stream['files']}): data positions restart", flush=True)
        state["cursors"] = {}
        stream["files"] = {str(b): len(by_bucket[b]) for b in buckets}
    n_workers = stream["workers"]
    cursors = state.setdefault("cursors", {})
    ctx = mp.get_context("spawn")
    queues, procs = {}, {}
    total_s = args.total_minutes * 60
    star_divs = [int(x) for x in args.star_divs.split(",")]
    origin = state.get("origin", 0.0)
    if args.last_call:
        total_s = state["train_seconds"] - origin + max(60.0, deadline - time.time() - args.reserve - 20)
        print(f"last call: schedule ends at {total_s:.0f} s of training", flush=True)
    for b in buckets:
        start = tuple(cursors.get(str(b), (0, 0)))
        for w in range(n_workers):
            q = ctx.Queue(maxsize=4)
            p = ctx.Process(target=producer, daemon=True,
                            args=(by_bucket[b], args.tokenizer, b, stream["tokens_per_step"], args.extra_queries,
                                  not args.no_augment, args.cwe_order, stream["seed"], w, n_workers, start, q),
                            kwargs={"pad_multiple": args.pad_multiple})
            p.start()
            queues[(b, w)] = q
            procs.setdefault(b, []).append(p)
    print(f"data: buckets {buckets}, {len(files)} files, {n_workers} producer(s) per bucket", flush=True)

    step_model = torch.compile(model) if args.compile else model
    model.train()
    steps_here = 0
    last_eval = state["train_seconds"]
    zero = lambda: torch.zeros((), device=device)  # noqa: E731
    acc = {"n": 0, "tok": 0, "wait": 0.0, "t0": time.time(), "ctx": zero(), "ans": zero(), "acc": zero(), "star": 0,
           "by_bucket": {}}
    t_last = time.time()
    prof = StepProfile(device, args.profile_steps)
    try:
        while True:
            if args.max_steps and steps_here >= args.max_steps:
                break
            if not args.max_steps and time.time() > deadline - args.reserve:
                break
            progress = ((state["step"] - state.get("origin_step", 0)) / args.schedule_steps if args.schedule_steps
                        else (state["train_seconds"] - origin) / total_s)
            b = choose_bucket(progress, curriculum, buckets, args.top_frac, rng)
            prof.start(steps_here)
            t0 = time.time()
            pool, idx = cursors.get(str(b), (0, 0))
            got_p, got_i, n_in_pool, batch = fetch(queues[(b, pool % n_workers)], procs[b], b)
            assert (got_p, got_i) == (pool, idx), f"data stream out of order: bucket {b} got {(got_p, got_i)}, want {(pool, idx)}"
            cursors[str(b)] = (pool + 1, 0) if idx + 1 == n_in_pool else (pool, idx + 1)
            acc["wait"] += time.time() - t0
            if steps_here == 0:  # producers starting up is not training time
                t_last = acc["t0"] = time.time()
                acc["wait"] = 0.0
            prof.mark("fetch")
            ids = torch.from_numpy(batch["ids"]).to(device, dtype=torch.long)
            kinds = torch.from_numpy(batch["kinds"]).to(device)
            prof.mark("copy")
            spec = ("causal",)
            if b >= args.star_min_bucket and rng.random() < args.star_frac:
                ctxs = batch["ctx"].tolist()
                spec = ("star", ctxs, [max(64, int(c) // rng.choice(star_divs)) for c in ctxs])
                acc["star"] += 1
            lr = lr_at(args, state["step"], progress, steps_here, cold)
            for g in opt.param_groups:
                g["lr"] = lr
            with autocast(device):
                logits = step_model(ids, spec)
            logits = logits[:, :-1].float()
            labels = ids[:, 1:]
            lk = kinds[:, 1:]
            ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="none").view_as(labels)
            is_ctx, is_ans = lk == KIND_CTX, lk == KIND_ANS
            loss_ctx = (ce * is_ctx).sum() / is_ctx.sum().clamp(min=1)
            loss_ans = (ce * is_ans).sum() / is_ans.sum().clamp(min=1)
            loss = args.ctx_loss * loss_ctx + loss_ans
            prof.mark("forward")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            prof.mark("backward")
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            prof.mark("optimizer")
            with torch.no_grad():
                acc["acc"] += ((logits.argmax(-1) == labels) & is_ans).sum() / is_ans.sum().clamp(min=1)
                acc["ctx"] += loss_ctx.detach()
                acc["ans"] += loss_ans.detach()
            del logits, ce, loss
            now = time.time()
            state["train_seconds"] += now - t_last  # wall time of training steps (evals excluded below)
            t_last = now
            state["step"] += 1
            steps_here += 1
            n_tok = int((batch["kinds"] > 0).sum())
            state["tokens"] += n_tok
            acc["n"] += 1
            acc["tok"] += n_tok
            acc["by_bucket"][b] = acc["by_bucket"].get(b, 0) + 1
            prof.end(f"{spec[0]} {b}", tuple(batch["ids"].shape), n_tok, log_metrics)
            if acc["n"] >= args.log_every:
                n = acc["n"]
                rec = {"type": "train", "step": state["step"], "tokens": state["tokens"],
                       "train_seconds": round(state["train_seconds"], 1), "progress": round(progress, 4), "lr": lr,
                       "bucket": b, "loss_ctx": round(float(acc["ctx"]) / n, 4), "loss_ans": round(float(acc["ans"]) / n, 4),
                       "acc_ans": round(float(acc["acc"]) / n, 4), "star_steps": acc["star"],
                       "buckets": {str(k): v for k, v in sorted(acc["by_bucket"].items())}}
                elapsed = time.time() - acc["t0"]  # after float() above: the GPU has finished these steps
                rec["tok_per_s"] = round(acc["tok"] / max(elapsed, 1e-9))
                rec["data_wait_frac"] = round(acc["wait"] / max(elapsed, 1e-9), 3)
                if device.type == "cuda":
                    rec["max_mem_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)
                print(f"step {rec['step']} p {progress:.3f} L<={b} lr {lr:.2e} loss ctx {rec['loss_ctx']:.3f} "
                      f"ans {rec['loss_ans']:.3f} acc {rec['acc_ans']:.3f} {rec['tok_per_s'] / 1e3:.0f}K tok/s "
                      f"(data wait {100 * rec['data_wait_frac']:.0f}%, star {acc['star']}/{n}, buckets {rec['buckets']}"
                      f"{', mem %.1f GiB' % rec['max_mem_gib'] if 'max_mem_gib' in rec else ''})", flush=True)
                log_metrics(rec)
                acc = {"n": 0, "tok": 0, "wait": 0.0, "t0": time.time(), "ctx": zero(), "ans": zero(), "acc": zero(),
                       "star": 0, "by_bucket": {}}
            if state["train_seconds"] - last_eval >= args.eval_every and time.time() < deadline - args.reserve - 45:
                t_eval = time.time()
                run_eval([int(x) for x in args.eval_lengths.split(",") if x], args.eval_samples,
                         parse_star_evals(args.eval_star))
                save()
                last_eval = state["train_seconds"]
                t_last = time.time()
                # the interval's steps before the eval stay counted, so only the eval's time leaves its clock
                # (resetting t0 made the interval after an eval read up to 10x fast: 1.14M tok/s in session 10)
                acc["t0"] += time.time() - t_eval
    finally:
        for ps in procs.values():
            for p in ps:
                p.terminate()


class StepProfile:
    """`--profile-steps N`: steps 10 … 10 + N − 1 of a call timed part by part (data fetch, host-to-device copy,
    forward with the loss, backward, clipping and optimizer, the rest), the device synchronized at each mark, so
    the parts add up to the step; then one line per step kind (causal, star) and a metrics record. Shows where
    training's time goes against `--bench`'s fixed-shape steps. Off (no synchronization) when N is 0."""

    def __init__(self, device, n):
        self.n, self.first = n, 10
        self.sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        self.on = False
        self.parts = {}  # kind -> {part: seconds}
        self.steps = {}  # kind -> count
        self.tokens = {}  # kind -> non-padding tokens
        self.shapes = set()

    def start(self, step_index):
        self.on = self.first <= step_index < self.first + self.n
        if self.on:
            self.sync()
            self.t0 = self.t = time.time()
            self.cur = {}

    def mark(self, part):
        if self.on:
            self.sync()
            t = time.time()
            self.cur[part] = self.cur.get(part, 0.0) + t - self.t
            self.t = t

    def end(self, kind, shape, n_tok, log_metrics):
        if not self.on:
            return
        self.mark("rest")
        acc = self.parts.setdefault(kind, {})
        for k, v in self.cur.items():
            acc[k] = acc.get(k, 0.0) + v
        self.steps[kind] = self.steps.get(kind, 0) + 1
        self.tokens[kind] = self.tokens.get(kind, 0) + n_tok
        self.shapes.add(shape)
        if sum(self.steps.values()) == self.n:
            rec = {"type": "profile", "steps": dict(self.steps), "distinct_shapes": len(self.shapes), "ms_per_step": {}}
            for kind, parts in self.parts.items():
                n = self.steps[kind]
                ms = {k: round(1e3 * v / n, 2) for k, v in parts.items()}
                rec["ms_per_step"][kind] = ms
                total = sum(parts.values())
                print(f"profile {kind}: {n} steps, {sum(ms.values()):.0f} ms a step ("
                      + ", ".join(f"{k} {v:.0f}" for k, v in ms.items())
                      + f"), {self.tokens[kind] / max(total, 1e-9) / 1e3:.0f}K tok/s synchronized", flush=True)
            print(f"profile: {len(self.shapes)} distinct batch shapes in {self.n} steps", flush=True)
            log_metrics(rec)


def bench(args, device):
    """Training-step speed and memory of a model of the size flags (random weights and tokens, AdamW), global
    and Star (blocks L/8), at each --bench-lengths length with --tokens-per-step tokens per step; then the Star
    block path against the dense mask on this device. Prints one line per case; touches no checkpoint."""
    import model as M

    cfg = llama_config(4096, args.dim, args.layers, args.heads, args.kv_heads, args.hidden, args.rope_theta,
                       args.max_pos, 4094, 4095)
    model = Llama(cfg)
    init_weights(model)
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda")
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    # training's Star batches give every row its own context and block (train(): ctx // choice(star_divs)); the
    # "star mix" cases do the same, through each attention path; "length varies" changes the row length every
    # step, as training's padded batches do (kernels that plan per shape pay for it there)
    divs = [int(x) for x in args.star_divs.split(",")]
    mix_rng = random.Random(0)
    for L in [int(x) for x in args.bench_lengths.split(",")]:
        rows = max(1, args.tokens_per_step // L)
        ids = torch.randint(0, 4094, (rows, L), device=device)
        ctxs = [L - mix_rng.randint(64, max(64, min(512, L // 4))) for _ in range(rows)]
        mix = ("star", ctxs, [max(64, c // mix_rng.choice(divs)) for c in ctxs])
        star8 = ("star", [L - 64] * rows, [max(64, (L - 64) // 8)] * rows)
        # (name, spec, attention path, dense-mask limit, a new row length every step as training's batches have)
        cases = [("global", ("causal",), "sdpa", None, False), ("global", ("causal",), "varlen", None, False),
                 ("global, length varies", ("causal",), "sdpa", None, True),
                 ("global, length varies", ("causal",), "varlen", None, True),
                 ("star L/8", star8, "varlen", None, False), ("star mix", mix, "sdpa", None, False),
                 ("star mix", mix, "varlen", None, False)]
        if L <= M.STAR_DENSE_BELOW:
            cases.append(("star mix, block path", mix, "sdpa", 0, False))
        for name, spec, path, dense_below, vary in cases:
            if path == "varlen" and device.type != "cuda":
                continue
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            times = []
            with M.attention_paths(path, dense_below):
                for it in range(6):
                    sync()
                    t0 = time.time()
                    x = ids[:, : max(L // 2, L - 64 * (it + 1))] if vary else ids
                    with autocast(device):
                        logits = model(x, spec)
                    loss = F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    del logits, loss
                    sync()
                    times.append(time.time() - t0)
            t = sorted(times[2:])[len(times[2:]) // 2]
            mem = f", peak {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if device.type == "cuda" else ""
            print(f"bench L={L} {name} ({path}): {rows}×{L} tokens/step, {t * 1e3:.0f} ms/step (median of 4), "
                  f"{rows * L / t / 1e3:.0f}K tok/s{mem}", flush=True)
    # the block path on this device (bf16 under autocast) against the dense mask
    model.eval()
    L = min(8192, max(int(x) for x in args.bench_lengths.split(",")))
    ids = torch.randint(0, 4094, (1, L), device=device)
    spec = ("star", [L - 64], [L // 8])
    with torch.no_grad(), autocast(device):
        with M.attention_paths("sdpa", dense_below=0):
            blockwise = model(ids, spec).float()
        with M.attention_paths("sdpa", dense_below=1 << 30):
            dense = model(ids, spec).float()
    print(f"bench: Star block path vs dense mask at L={L}: max |Δ logits| {float((blockwise - dense).abs().max()):.2e} "
          f"(logits to {float(dense.abs().max()):.1f}), argmax equal {float((blockwise.argmax(-1) == dense.argmax(-1)).float().mean()) * 100:.2f}%",
          flush=True)


def check_eval(model, heldout, tok, device, eos_id, bos_id):
    """The KV-cache greedy decoder against one-at-a-time full recompute, global and Star, 1 sample a task."""
    length = min(heldout)
    recs = [r for t in TASKS for r in [x for x in heldout[length] if x["task"] == t][:1]]
    exs = build_examples(recs, tok, bos_id, eos_id)
    prompts = [e[0][: len(e[0]) - int((e[1] == KIND_ANS).sum())].tolist() for e in exs]
    ctx = [e[2] for e in exs]
    model.eval()
    bad = 0
    for blocks in (None, [max(1, r["max_length"] // 4) for r in recs]):
        fast = greedy(model, prompts, ctx, 12, eos_id, device, blocks)
        slow = greedy_recompute(model, prompts, ctx, 12, eos_id, device, blocks)
        for r, a, b in zip(recs, fast, slow):
            if a != b:
                bad += 1
                print(f"  {'star' if blocks else 'global'} {r['task']}: cache {a} recompute {b}")
    print(f"check-eval at L={length}: {2 * len(recs) - bad}/{2 * len(recs)} greedy continuations identical", flush=True)
    if bad:
        sys.exit(1)


def fetch(q, procs, bucket):
    """The next batch of a bucket's worker; fails (instead of waiting forever) once its producers are dead."""
    while True:
        try:
            return q.get(timeout=10)
        except queue.Empty:
            if not all(p.is_alive() for p in procs):
                sys.exit(f"a data producer of bucket {bucket} died (see the traceback above)")


if __name__ == "__main__":
    main()
