#!/usr/bin/env python3
"""Trains the bundled RULER model (public/models/ruler-llama-tiny) on data from scripts/train/make_data.ts.

A small LlamaForCausalLM (transformers) with a byte-level BPE trained here, taught RULER's self-contained
tasks: niah_*, vt, cwe, fwe. Runs in wall-clock slices (--minutes) that resume from a checkpoint, so that
one schedule (--total-minutes) spans several GPU calls of under 10 minutes. See scripts/train/README.md.

    # tokenizer only (CPU, a minute)
    python3 scripts/train/train.py --data data/train --tokenizer data/tokenizer --tokenizer-only
    # one training slice (GPU); later slices add --resume
    python3 scripts/train/train.py --data data/train --tokenizer data/tokenizer --run data/run \\
        --minutes 8.5 --total-minutes 25 --save-compact $OUT/ckpt
    # export from a compact checkpoint (CPU)
    python3 scripts/train/train.py --tokenizer data/tokenizer --resume-from data/ckpt --minutes 0 \\
        --device cpu --export public/models/ruler-llama-tiny

Loss: every position is trained (dense supervision), split in two means: context/question tokens
(weight --ctx-loss) and answer tokens (the target after the answer prefix, and EOS; weight 1), so the few
answer tokens keep a fixed share of the gradient however long the haystack. NIAH samples also get extra
questions about other needles of the same haystack after the first answer (up to --extra-queries), and
every epoch re-draws needle values / names / coded words consistently (--augment), so repeated haystacks
never repeat an answer.
"""

import argparse
import glob
import gzip
import json
import lzma
import math
import multiprocessing as mp
import os
import queue
import random
import re
import shutil
import sys
import time
import uuid

import numpy as np

# batch shapes change every step (length buckets): the CUDA allocator grows segments instead of fragmenting
os.environ.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

BOS = "<|begin_of_text|>"
EOS = "<|end_of_text|>"
# base-model prompts: the template passes the text through (after BOS), so `star-attn ruler` gives the same
# prompt whether it uses the chat template (default) or --template base
CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{%- if not loop.first %}{{- '\\n\\n' }}{%- endif %}"
    "{{- message['content'] }}"
    "{%- endfor %}"
)
# Llama 3's pre-tokenizer with one addition: alphanumeric runs holding a digit and only hex letters
# (7-digit values, UUID groups) stay one piece, so BPE can merge digit and hex pairs inside them
SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)| ?[0-9a-f]*[0-9][0-9a-f]*| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
TASKS = ["niah_single_1", "niah_single_2", "niah_single_3", "niah_multikey_1", "niah_multikey_2",
         "niah_multikey_3", "niah_multivalue", "niah_multiquery", "vt", "cwe", "fwe"]
KIND_PAD, KIND_CTX, KIND_ANS = 0, 1, 2

# ---------------------------------------------------------------------------------------------------------
# data


def read_records(paths):
    """JSON lines from .jsonl, .jsonl.gz or .jsonl.xz files; adds `context` (= input minus its query)."""
    for p in paths:
        opener = gzip.open if p.endswith(".gz") else lzma.open if p.endswith(".xz") else open
        with opener(p, "rt", encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                r = json.loads(line)
                assert r["input"].endswith(r["query"]), "input must end with the query"
                r["context"] = r["input"][: len(r["input"]) - len(r["query"])]
                yield r


def data_files(data_dir, split):
    files = []
    for ext in ("jsonl.gz", "jsonl.xz", "jsonl"):
        files += glob.glob(os.path.join(data_dir, f"{split}-*.{ext}"))
    return sorted(files)


def bucket_of(path):
    """train-08192-003.jsonl.gz → 8192."""
    return int(os.path.basename(path).split("-")[1])


# ---------------------------------------------------------------------------------------------------------
# tokenizer


def train_tokenizer(data_dir, out_dir, vocab_size, max_chars=150_000_000):
    """Byte-level BPE on the training texts (inputs and targets), BOS/EOS added last; saved like a Hub model."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    files = data_files(data_dir, "train")
    if not files:
        sys.exit(f"no train-*.jsonl.gz in {data_dir}: run scripts/train/make_data.ts first")
    random.Random(0).shuffle(files)

    def texts():
        n = 0
        for r in read_records(files):
            yield r["input"] + r["target"]
            n += len(r["input"])
            if n > max_chars:
                return

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - 2, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    t0 = time.time()
    tok.train_from_iterator(texts(), trainer=trainer)
    tok.add_special_tokens([BOS, EOS])
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B:1",
                                      special_tokens=[(BOS, tok.token_to_id(BOS))]),
    ])
    save_tokenizer(tok, out_dir)
    print(f"tokenizer: {tok.get_vocab_size()} tokens trained in {time.time() - t0:.0f} s → {out_dir}", flush=True)


def save_tokenizer(tok, out_dir):
    """tokenizer.json + tokenizer_config.json (chat template inside, class name older loaders know)."""
    from transformers import PreTrainedTokenizerFast

    os.makedirs(out_dir, exist_ok=True)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, chat_template=CHAT_TEMPLATE,
                                 model_max_length=32768, clean_up_tokenization_spaces=False)
    hf.save_pretrained(out_dir, save_jinja_files=False)
    path = os.path.join(out_dir, "tokenizer_config.json")
    with open(path) as f:
        cfg = json.load(f)
    cfg["chat_template"] = CHAT_TEMPLATE
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    cfg["bos_token"], cfg["eos_token"] = BOS, EOS
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2, ensure_ascii=False)
    jinja = os.path.join(out_dir, "chat_template.jinja")
    if os.path.exists(jinja):
        os.remove(jinja)


def load_tokenizer(tok_dir):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))


# ---------------------------------------------------------------------------------------------------------
# examples: augmentation, extra questions, token ids and loss kinds

NEEDLE_RE = re.compile(r"One of the special magic (?:numbers|uuids|words) for (\S+) is: (\S+)\.")
ASKED_RE = re.compile(r" for (.+?) mentioned in the provided text\?")
NUM7_RE = re.compile(r"(?<!\d)\d{7}(?!\d)")
NUM5_RE = re.compile(r"(?<!\d)\d{5}(?!\d)")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
VT_NAME_RE = re.compile(r"\b(?!VAR\b)(?:[A-Z]{3}|[A-Z]{5})\b")
CWE_ITEM_RE = re.compile(r"(?<=\d\. )[a-z]+")
FWE_HEAD = "Find the three most frequently appeared coded words. "
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = "abcdefghijklmnopqrstuvwxyz"


class Remap:
    """A consistent random renaming of matched strings across all pieces of one example."""

    def __init__(self, rng, fresh):
        self.rng, self.fresh, self.map, self.used = rng, fresh, {}, set()

    def __call__(self, m):
        s = m.group(0)
        if s not in self.map:
            for _ in range(100):
                t = self.fresh(self.rng, s)
                if t not in self.used:
                    break
            self.map[s] = t
            self.used.add(t)
        return self.map[s]


def fresh_name(rng, s):
    while True:
        t = "".join(rng.choice(UPPER) for _ in s)
        if t != "VAR":
            return t


def augment(rec, pieces, rng):
    """Re-draws the random parts of a sample (values, UUIDs, VT names, coded words, CWE word identities),
    the same way in every piece (context, query, targets). pieces: dict name → str; returns a new dict."""
    task = rec["task"]
    out = dict(pieces)

    def sub(regex, remap, names=None):
        for k in names or out:
            out[k] = regex.sub(remap, out[k])

    if task.startswith("niah"):
        sub(NUM7_RE, Remap(rng, lambda r, s: str(r.randint(1_000_000, 9_999_999))))
        sub(UUID_RE, Remap(rng, lambda r, s: str(uuid.UUID(int=r.getrandbits(128), version=4))))
    elif task == "vt":
        sub(VT_NAME_RE, Remap(rng, fresh_name))
        sub(NUM5_RE, Remap(rng, lambda r, s: str(r.randint(10000, 99998))))
    elif task == "fwe":
        ctx = out["context"]
        at = ctx.find(FWE_HEAD)
        if at >= 0:
            at += len(FWE_HEAD)
            words = set(re.findall(r"\b[a-z]{6}\b", ctx[at:]))
            rm = Remap(rng, lambda r, s: "".join(r.choice(LOWER) for _ in range(6)))
            word_re = re.compile(r"\b[a-z]{6}\b")
            repl = lambda m: rm(m) if m.group(0) in words else m.group(0)  # noqa: E731
            out["context"] = ctx[:at] + word_re.sub(repl, ctx[at:])
            for k in out:
                if k.startswith("target"):
                    out[k] = word_re.sub(repl, out[k])
    elif task == "cwe":
        words = sorted(set(CWE_ITEM_RE.findall(out["context"])))
        perm = words[:]
        rng.shuffle(perm)
        table = dict(zip(words, perm))
        for k in out:
            if k == "context" or k.startswith("target"):
                out[k] = CWE_ITEM_RE.sub(lambda m: table.get(m.group(0), m.group(0)), out[k])
    return out


def extra_questions(rec, rng, n):
    """Up to n more (question, answer) pairs about the same haystack, in the task's own query form."""
    task, query, ctx = rec["task"], rec["query"], rec["context"]
    if n <= 0 or not task.startswith("niah"):
        return []
    if task == "niah_multiquery":
        # the same keys asked in other orders: the answer follows the order asked
        m = re.search(r" for (.+?) mentioned in the provided text\?", query)
        if not m:
            return []
        keys = re.split(r", and |, | and ", m.group(1))
        vals = dict(NEEDLE_RE.findall(ctx))
        if len(keys) < 2 or any(k not in vals for k in keys):
            return []
        out = []
        for _ in range(min(n, 2)):
            order = keys[:]
            rng.shuffle(order)
            listed = english_list(order)
            out.append((query.replace(m.group(1), listed), " " + english_list([vals[k] for k in order]) + "."))
        return out
    if task == "niah_multivalue":
        return []
    m = ASKED_RE.search(query)
    if not m:
        return []
    asked = m.group(1)
    needles = NEEDLE_RE.findall(ctx)
    count = {}
    for k, _ in needles:
        count[k] = count.get(k, 0) + 1
    cands = [(k, v) for k, v in needles if count[k] == 1 and k != asked]
    rng.shuffle(cands)
    return [(query.replace(asked, k), f" {v}.") for k, v in cands[:n]]


def english_list(items):
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + ", and " + items[-1]


def example_pieces(rec, rng=None, n_extra=0, do_augment=False):
    """The texts of one example: context, query, target, then extra (question, answer) pairs xq{i}/target{i}."""
    extras = extra_questions(rec, rng, n_extra) if rng is not None else []
    pieces = {"context": rec["context"], "query": rec["query"], "target": rec["target"]}
    for i, (q, a) in enumerate(extras):
        pieces[f"xq{i}"], pieces[f"target{i}"] = q, a
    if do_augment and rng is not None:
        pieces = augment(rec, pieces, rng)
    return pieces


def build_examples(recs, tok, bos_id, eos_id, rng=None, n_extra=0, do_augment=False, max_len=None):
    """Token ids [BOS] context query target EOS (extra-question answer EOS)*, the loss kind of each token
    and the context length (BOS + context: what Star Attention splits into blocks). Context and query are
    encoded apart, as `star-attn ruler` does. All texts go through one encode_batch (parallel in Rust)."""
    all_pieces = [example_pieces(r, rng, n_extra, do_augment) for r in recs]
    flat = [t for p in all_pieces for t in p.values()]
    encs = iter(tok.encode_batch(flat, add_special_tokens=False))
    out = []
    for pieces in all_pieces:
        enc = {k: next(encs).ids for k in pieces}
        ids = [bos_id] + enc["context"] + enc["query"]
        kinds = [KIND_CTX] * len(ids)
        ctx_len = 1 + len(enc["context"])
        ids += enc["target"] + [eos_id]
        kinds += [KIND_ANS] * (len(enc["target"]) + 1)
        i = 0
        while f"xq{i}" in enc:
            add = enc[f"xq{i}"] + enc[f"target{i}"] + [eos_id]
            if max_len is not None and len(ids) + len(add) > max_len:
                break
            ids += add
            kinds += [KIND_CTX] * len(enc[f"xq{i}"]) + [KIND_ANS] * (len(enc[f"target{i}"]) + 1)
            i += 1
        out.append((np.asarray(ids, np.int32), np.asarray(kinds, np.int8), ctx_len))
    return out


# ---------------------------------------------------------------------------------------------------------
# batch producers (processes; batches of about tokens_per_step tokens from one length bucket)


def producer(files, tok_dir, bucket, tokens_per_step, n_extra, do_augment, seed, q):
    os.environ["RAYON_NUM_THREADS"] = "4"  # before tokenizers starts its pool: many producers share the CPU
    tok = load_tokenizer(tok_dir)
    bos_id, eos_id = tok.token_to_id(BOS), tok.token_to_id(EOS)
    recs = list(read_records(files))
    rng = random.Random(seed)
    max_len = bucket + 512
    # pools of about 4 steps' worth of examples, sorted by length so that rows of a batch pad little
    pool_n = max(8, 4 * tokens_per_step // max(1, int(0.8 * bucket)))
    while True:
        order = list(range(len(recs)))
        rng.shuffle(order)
        for start in range(0, len(order), pool_n):
            pool = build_examples([recs[i] for i in order[start:start + pool_n]], tok, bos_id, eos_id, rng, n_extra,
                                  do_augment, max_len)
            pool.sort(key=lambda e: len(e[0]))
            batches, cur = [], []
            for ex in pool:  # ascending length: ex is the widest row so far
                if cur and (len(ex[0]) + 63) // 64 * 64 * (len(cur) + 1) > tokens_per_step:
                    batches.append(cur)
                    cur = []
                cur.append(ex)
            if cur:
                batches.append(cur)
            rng.shuffle(batches)
            for b in batches:
                q.put(collate(b, bucket))


def collate(examples, bucket):
    width = (max(len(e[0]) for e in examples) + 63) // 64 * 64
    ids = np.zeros((len(examples), width), np.int32)
    kinds = np.zeros((len(examples), width), np.int8)
    for r, (i, k, _) in enumerate(examples):
        ids[r, : len(i)] = i
        kinds[r, : len(k)] = k
    return {"ids": ids, "kinds": kinds, "ctx": np.asarray([e[2] for e in examples], np.int32), "bucket": bucket}


# ---------------------------------------------------------------------------------------------------------
# model


def build_model(args, vocab_size, bos_id, eos_id, saved=None):
    """A LlamaForCausalLM from the size flags, or from a saved config (resume)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    if saved is not None:
        cfg = LlamaConfig.from_dict({k: v for k, v in saved.items() if k not in ("architectures", "dtype", "torch_dtype")})
        return LlamaForCausalLM._from_config(cfg, attn_implementation="sdpa", dtype=torch.float32)
    cfg = LlamaConfig(
        vocab_size=vocab_size, hidden_size=args.dim, intermediate_size=args.hidden, num_hidden_layers=args.layers,
        num_attention_heads=args.heads, num_key_value_heads=args.kv_heads, head_dim=args.dim // args.heads,
        max_position_embeddings=args.max_pos, rms_norm_eps=1e-5, hidden_act="silu", tie_word_embeddings=True,
        attention_bias=False, mlp_bias=False, bos_token_id=bos_id, eos_token_id=eos_id,
        rope_parameters={"rope_type": "default", "rope_theta": args.rope_theta},
    )
    model = LlamaForCausalLM._from_config(cfg, attn_implementation="sdpa", dtype=torch.float32)
    # GPT-2 style: residual-branch outputs scaled down with depth
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                p.mul_(1 / math.sqrt(2 * args.layers))
    return model


def star_rule(i, j, c, b):
    """Star Attention visibility for positions i (rows) and j (columns) of a context of c tokens split in
    blocks of b with anchor = first block: context tokens see the anchor and their own block; later ones all."""
    return (i >= c) | (i // b == 0) | (j < b) | (i // b == j // b)


def star_mask(width, ctx_lens, blocks, device):
    """(rows, 1, width, width) bool, True = attend: causal, and Star Attention phase 1 for context tokens
    (star_rule). One forward with this mask computes exactly what Star's two phases compute."""
    i = torch.arange(width, device=device)[None, :, None]
    j = torch.arange(width, device=device)[None, None, :]
    c = torch.as_tensor(ctx_lens, device=device)[:, None, None]
    b = torch.as_tensor(blocks, device=device)[:, None, None]
    return ((j <= i) & star_rule(i, j, c, b))[:, None]


# ---------------------------------------------------------------------------------------------------------
# evaluation: greedy decoding, RULER's string_match_all


def postprocess(pred):
    return re.sub(r"[\x00-\x1f]", "\n", pred.strip()).strip()


def score(pred, outputs):
    p = postprocess(pred).lower()
    return 100.0 * sum(o.lower() in p for o in outputs) / len(outputs)


@torch.no_grad()
def greedy(model, prompts, ctx_lens, max_new, eos_id, device, blocks=None):
    """Greedy continuations with a KV cache. Prompts are left-padded and every mask is explicit: prefill
    under plain causal or Star phase-1 visibility (then the cache holds exactly Star's context KV), decode
    steps see every earlier token (Star's phase 2). Stops at EOS."""
    from transformers import DynamicCache

    rows = len(prompts)
    lens = [len(p) for p in prompts]
    width = max(lens)
    pads = torch.tensor([width - n for n in lens], device=device)
    ids = torch.zeros((rows, width), dtype=torch.long)
    for r, p in enumerate(prompts):
        ids[r, width - len(p):] = torch.as_tensor(p)
    ids = ids.to(device)
    t = torch.arange(width, device=device)
    pos = (t[None, :] - pads[:, None]).clamp(min=0)
    i, j = pos[:, :, None], pos[:, None, :]
    real_j = (t[None, None, :] >= pads[:, None, None])
    mask = real_j & (j <= i)
    if blocks is not None:
        c = torch.tensor(ctx_lens, device=device)[:, None, None]
        b = torch.tensor(blocks, device=device)[:, None, None]
        mask &= star_rule(i, j, c, b)
    mask |= torch.eye(width, dtype=torch.bool, device=device)[None]  # pad rows attend to themselves (no NaN)
    cache = DynamicCache(config=model.config)
    with autocast(device):
        logits = model(input_ids=ids, attention_mask=mask[:, None], position_ids=pos, past_key_values=cache,
                       use_cache=True, logits_to_keep=1).logits[:, -1]
    out = [[] for _ in range(rows)]
    done = torch.zeros(rows, dtype=torch.bool, device=device)
    real = real_j[:, 0, :]  # (rows, width)
    cur_pos = torch.tensor(lens, device=device)
    for _ in range(max_new):
        nxt = logits.argmax(-1)
        done |= nxt == eos_id
        for r, tok_id in enumerate(nxt.tolist()):
            if not done[r]:
                out[r].append(tok_id)
        if bool(done.all()):
            break
        real = torch.cat([real, torch.ones((rows, 1), dtype=torch.bool, device=device)], 1)
        with autocast(device):
            logits = model(input_ids=nxt[:, None], attention_mask=real[:, None, None, :], position_ids=cur_pos[:, None],
                           past_key_values=cache, use_cache=True).logits[:, -1]
        cur_pos += 1
    return out


@torch.no_grad()
def greedy_recompute(model, prompts, ctx_lens, max_new, eos_id, device, blocks=None):
    """Reference for greedy(): one prompt at a time, the whole sequence recomputed at every step with a
    plain causal or Star mask. Slow; used by --check-eval."""
    outs = []
    for p, c, b in zip(prompts, ctx_lens, blocks or [None] * len(prompts)):
        seq = list(p)
        gen = []
        for _ in range(max_new):
            n = len(seq)
            x = torch.tensor([seq], device=device)
            mask = None
            if b is not None:
                i = torch.arange(n, device=device)[:, None]
                j = torch.arange(n, device=device)[None, :]
                mask = ((j <= i) & star_rule(i, j, c, b))[None, None]
            with autocast(device):
                nxt = int(model(input_ids=x, attention_mask=mask).logits[0, -1].argmax())
            if nxt == eos_id:
                break
            gen.append(nxt)
            seq.append(nxt)
        outs.append(gen)
    return outs


def evaluate(model, heldout, tok, lengths, n_samples, star_lengths, device, eos_id, bos_id, batch_rows, decode=greedy,
             stop_at=None):
    """{config: {length: {task: score, "avg": mean}}} on the first n_samples held-out samples per task;
    (config, length) pairs not started by time stop_at are left out."""
    model.eval()
    res = {}
    configs = [("global", lengths)] + ([("star(L/4)", star_lengths)] if star_lengths else [])
    for name, lens in configs:
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
                for s in range(0, len(recs), batch_rows):
                    part = recs[s:s + batch_rows]
                    exs = build_examples(part, tok, bos_id, eos_id)
                    n_ans = [int((e[1] == KIND_ANS).sum()) for e in exs]
                    prompts = [e[0][: len(e[0]) - k].tolist() for e, k in zip(exs, n_ans)]
                    blocks = [max(1, r["max_length"] // 4) for r in part] if name != "global" else None
                    gen = decode(model, prompts, [e[2] for e in exs], max(n_ans) + 4, eos_id, device, blocks)
                    vals += [score(tok.decode(g, skip_special_tokens=True), r["outputs"]) for g, r in zip(gen, part)]
                scores[task] = round(sum(vals) / len(vals), 2)
            if scores:
                scores["avg"] = round(sum(scores.values()) / len(scores), 2)
                res[name][str(length)] = scores
    model.train()
    return res


def autocast(device):
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def format_eval(res):
    lines = []
    for name, by_len in res.items():
        for length, s in by_len.items():
            cells = " ".join(f"{t.replace('niah_', '')}={v:.0f}" for t, v in s.items() if t != "avg")
            lines.append(f"  eval {name} L={length}: avg {s['avg']:.1f} | {cells}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------
# checkpoints and export


def save_compact(model, state, out_dir, tok_dir):
    """bf16 weights as a Hub-style folder in shards ≤ 15 MB (they travel back from the GPU machine) plus
    state.json; --resume-from loads it (optimizer moments are not kept: a short re-warmup follows)."""
    from safetensors.torch import save_file

    os.makedirs(out_dir, exist_ok=True)
    for f in glob.glob(os.path.join(out_dir, "*.safetensors")):
        os.remove(f)
    sd = {k: v.detach().to(torch.bfloat16).contiguous().cpu() for k, v in model.state_dict().items()
          if k != "lm_head.weight" or not model.config.tie_word_embeddings}
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
    model.config.to_json_file(os.path.join(out_dir, "config.json"))
    with open(os.path.join(out_dir, "state.json"), "w") as f:
        json.dump(state, f, indent=2)


def load_compact(model, in_dir, weights_dir=None):
    """Weights from in_dir's weights-*.safetensors, or from weights_dir's *.safetensors (an exported model
    folder: same tensor names), and the training state from in_dir/state.json."""
    from safetensors.torch import load_file

    sd = {}
    files = sorted(glob.glob(os.path.join(weights_dir, "*.safetensors"))) if weights_dir else \
        sorted(glob.glob(os.path.join(in_dir, "weights-*.safetensors")))
    if not files:
        sys.exit(f"no safetensors weights in {weights_dir or in_dir}")
    for f in files:
        sd.update(load_file(f))
    missing, unexpected = model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=False)
    missing = [k for k in missing if k != "lm_head.weight"]
    if missing or unexpected:
        sys.exit(f"compact checkpoint {in_dir} does not match the model: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    with open(os.path.join(in_dir, "state.json")) as f:
        return json.load(f)


def export(model, tok_dir, out_dir, dtype):
    """The shipped model: config.json, model.safetensors, generation_config.json and the tokenizer files."""
    from transformers import GenerationConfig

    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    m = model.to(torch.bfloat16 if dtype == "bf16" else torch.float32)
    m.save_pretrained(out_dir, safe_serialization=True, max_shard_size="200MB")
    GenerationConfig(bos_token_id=m.config.bos_token_id, eos_token_id=m.config.eos_token_id, do_sample=False).save_pretrained(out_dir)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tok_dir, name), os.path.join(out_dir, name))
    total = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
    print(f"exported to {out_dir}: {sorted(os.listdir(out_dir))}, {total / 1e6:.1f} MB", flush=True)
    if total > 40e6:
        print(f"WARNING: {out_dir} is {total / 1e6:.1f} MB > 40 MB", flush=True)
    model.float()


# ---------------------------------------------------------------------------------------------------------
# training


def parse_curriculum(spec):
    """'0:512,0.1:1024,…' → [(progress, cap)] sorted."""
    out = sorted((float(a), int(b)) for a, b in (p.split(":") for p in spec.split(",")))
    return out


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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/train", help="folder of train-*.jsonl.gz and heldout-*.jsonl.gz")
    ap.add_argument("--tokenizer", default="data/tokenizer", help="tokenizer folder (trained from --data if absent)")
    ap.add_argument("--tokenizer-only", action="store_true", help="train/save the tokenizer, print stats, exit")
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--run", default="data/run", help="full checkpoint (ckpt.pt) and metrics.jsonl")
    ap.add_argument("--resume", action="store_true", help="continue from --run/ckpt.pt, else from --resume-from")
    ap.add_argument("--resume-from", help="compact checkpoint folder (from --save-compact) when ckpt.pt is absent")
    ap.add_argument("--resume-weights", help="take --resume-from's weights from this folder's *.safetensors instead "
                    "(e.g. the exported public/models/<name>, so a GPU call need not carry the compact shards too)")
    ap.add_argument("--save-compact", help="also write the compact checkpoint here (e.g. $OUT/ckpt)")
    ap.add_argument("--export", help="write the shipped model folder here at the end")
    ap.add_argument("--export-dtype", default="bf16", choices=["bf16", "f32"])
    ap.add_argument("--minutes", type=float, default=8.5, help="wall-clock budget of this call (startup, evals included)")
    ap.add_argument("--total-minutes", type=float, default=20.0, help="training time of the whole schedule (all calls)")
    ap.add_argument("--reserve", type=float, default=75.0, help="seconds kept for the final eval and saving")
    ap.add_argument("--last-call", action="store_true",
                    help="this call ends the schedule: --total-minutes is set so that the LR decay ends at the deadline")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps in this call (0: no limit)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seed", type=int, default=0)
    # model
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--rope-theta", type=float, default=500000.0)
    ap.add_argument("--max-pos", type=int, default=32768)
    # optimisation
    ap.add_argument("--tokens-per-step", type=int, default=65536)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup-steps", type=int, default=200)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--ctx-loss", type=float, default=0.3, help="weight of the context/question token loss")
    ap.add_argument("--extra-queries", type=int, default=8)
    ap.add_argument("--no-augment", action="store_true")
    ap.add_argument("--curriculum", default="0:512,0.08:1024,0.2:2048,0.35:4096,0.5:8192",
                    help="progress:max-length steps; progress = training seconds / total")
    ap.add_argument("--top-frac", type=float, default=0.5, help="share of steps at the longest allowed bucket")
    ap.add_argument("--star-frac", type=float, default=0.2, help="share of steps ≥ --star-min-bucket with a Star Attention mask")
    ap.add_argument("--star-min-bucket", type=int, default=2048, help="shortest bucket that gets Star Attention masks")
    ap.add_argument("--star-divs", default="2,4,8", help="Star blocks are context/k for k drawn from this list (at least 64)")
    ap.add_argument("--restart-schedule", action="store_true",
                    help="this call starts a new schedule of --total-minutes from the resumed weights (fine-tuning): "
                         "LR decay and curriculum count from here")
    ap.add_argument("--workers", type=int, default=0, help="producer processes per bucket (0: from the CPU count)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    # evaluation
    ap.add_argument("--eval-every", type=float, default=150.0, help="seconds of training between evals")
    ap.add_argument("--eval-lengths", default="1024,4096")
    ap.add_argument("--eval-star-lengths", default="4096")
    ap.add_argument("--eval-samples", type=int, default=8)
    ap.add_argument("--final-eval-lengths", default="1024,2048,4096,8192")
    ap.add_argument("--final-eval-samples", type=int, default=16)
    ap.add_argument("--eval-rows", type=int, default=16)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--check-eval", action="store_true",
                    help="compare the KV-cache greedy decoder with a full-recompute one on a few held-out samples, exit")
    args = ap.parse_args()

    t_start = time.time()
    deadline = t_start + args.minutes * 60
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    torch.set_float32_matmul_precision("high")  # the few f32 matmuls (autocast does the rest in bf16)

    if not os.path.exists(os.path.join(args.tokenizer, "tokenizer.json")):
        train_tokenizer(args.data, args.tokenizer, args.vocab)
    tok = load_tokenizer(args.tokenizer)
    bos_id, eos_id = tok.token_to_id(BOS), tok.token_to_id(EOS)
    vocab_size = (tok.get_vocab_size() + 63) // 64 * 64
    if args.tokenizer_only:
        tokenizer_stats(tok, args.data)
        return

    # the checkpoint being resumed decides the architecture (its config), not the size flags
    os.makedirs(args.run, exist_ok=True)
    ckpt_path = os.path.join(args.run, "ckpt.pt")
    compact_step = -1
    if args.resume_from:
        with open(os.path.join(args.resume_from, "state.json")) as f:
            compact_step = json.load(f)["step"]
    full = torch.load(ckpt_path, map_location="cpu", weights_only=False) if args.resume and os.path.exists(ckpt_path) else None
    if full is not None and full["state"]["step"] < compact_step:
        full = None
    saved_cfg = full["config"] if full is not None else None
    if saved_cfg is None and args.resume_from:
        with open(os.path.join(args.resume_from, "config.json")) as f:
            saved_cfg = json.load(f)
    model = build_model(args, vocab_size, bos_id, eos_id, saved_cfg).to(device)
    c = model.config
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f}M params (tied embeddings), dim {c.hidden_size}, {c.num_hidden_layers} layers, "
          f"{c.num_attention_heads}/{c.num_key_value_heads} heads, hidden {c.intermediate_size}, vocab {c.vocab_size}, "
          f"device {device}", flush=True)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=device.type == "cuda")
    state = {"step": 0, "tokens": 0, "train_seconds": 0.0, "calls": 0}
    cold = False
    if full is not None:
        model.load_state_dict(full["model"])
        opt.load_state_dict(full["opt"])
        state = full["state"]
        print(f"resumed {ckpt_path}: step {state['step']}, {state['train_seconds']:.0f} s trained", flush=True)
    elif args.resume_from:
        state = load_compact(model, args.resume_from, args.resume_weights)
        cold = True
        # the metrics so far travel with the compact checkpoint; a fresh machine continues them
        src = os.path.join(args.resume_from, "metrics.jsonl")
        if os.path.exists(src) and os.path.abspath(src) != os.path.abspath(os.path.join(args.run, "metrics.jsonl")):
            shutil.copy(src, os.path.join(args.run, "metrics.jsonl"))
        print(f"resumed compact {args.resume_from}: step {state['step']}, {state['train_seconds']:.0f} s trained "
              f"(fresh optimizer, 50-step re-warmup)", flush=True)
    elif args.resume:
        print("no checkpoint to resume: starting fresh", flush=True)
    del full
    state["calls"] += 1

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
    star_lengths = [int(x) for x in args.eval_star_lengths.split(",") if x]

    def run_eval(lengths, n, star):
        t0 = time.time()
        # the call's command timeout is some way past --minutes: leave the last evals out rather than be killed
        res = evaluate(model, heldout, tok, lengths, n, star, device, eos_id, bos_id, args.eval_rows,
                       stop_at=deadline + 30 if args.minutes > 0 else None)
        print(format_eval(res) + f"\n  ({time.time() - t0:.0f} s)", flush=True)
        log_metrics({"type": "eval", "step": state["step"], "tokens": state["tokens"],
                     "train_seconds": round(state["train_seconds"], 1), "eval": res})
        return res

    if args.check_eval:
        check_eval(model, heldout, tok, device, eos_id, bos_id)
        return

    def save():
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": state, "args": vars(args),
                    "config": model.config.to_dict()}, ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)
        if args.save_compact:
            save_compact(model, state, args.save_compact, args.tokenizer)

    if args.minutes > 0 and (args.max_steps > 0 or deadline - time.time() > args.reserve + 10):
        train(args, model, opt, state, cold, device, tok, deadline, log_metrics, run_eval, save)
        save()
    if heldout and args.minutes > 0:
        run_eval([int(x) for x in args.final_eval_lengths.split(",") if x], args.final_eval_samples, star_lengths)
    if args.export:
        export(model, args.tokenizer, args.export, args.export_dtype)
    print(f"done in {time.time() - t_start:.0f} s: step {state['step']}, {state['tokens'] / 1e6:.1f}M tokens, "
          f"{state['train_seconds']:.0f} s trained", flush=True)


def train(args, model, opt, state, cold, device, tok, deadline, log_metrics, run_eval, save):
    files = data_files(args.data, "train")
    if not files:
        sys.exit(f"no training files in {args.data}")
    by_bucket = {}
    for f in files:
        by_bucket.setdefault(bucket_of(f), []).append(f)
    buckets = sorted(by_bucket)
    curriculum = parse_curriculum(args.curriculum)
    # producers blocked on a full queue cost nothing, so every bucket gets its own (the curriculum moves on)
    n_workers = args.workers or (3 if (os.cpu_count() or 2) >= 12 else 1)
    ctx = mp.get_context("spawn")
    queues, procs, producers = {}, [], {}
    total_s = args.total_minutes * 60
    star_divs = [int(x) for x in args.star_divs.split(",")]
    # progress counts training seconds since the schedule's origin: 0, or where a restarted schedule began
    origin = state["train_seconds"] if args.restart_schedule else 0.0
    if args.last_call:
        total_s = state["train_seconds"] - origin + max(60.0, deadline - time.time() - args.reserve - 20)
        print(f"last call: schedule ends at {total_s:.0f} s of training", flush=True)
    for b in buckets:
        queues[b] = ctx.Queue(maxsize=6)
        # long buckets only matter later: fewer producers for the ones the curriculum has passed
        for w in range(n_workers):
            seed = args.seed * 1000 + state["calls"] * 100 + b % 97 + 7 * w
            p = ctx.Process(target=producer, daemon=True,
                            args=(by_bucket[b], args.tokenizer, b, args.tokens_per_step, args.extra_queries,
                                  not args.no_augment, seed, queues[b]))
            p.start()
            procs.append(p)
            producers.setdefault(b, []).append(p)
    print(f"data: buckets {buckets}, {len(files)} files, {n_workers} producer(s) per bucket", flush=True)

    step_model = torch.compile(model) if args.compile else model
    rng = random.Random(args.seed + 17 * state["calls"])
    model.train()
    steps_here = 0
    last_eval = state["train_seconds"]
    zero = lambda: torch.zeros((), device=device)  # noqa: E731
    acc = {"n": 0, "tok": 0, "wait": 0.0, "t0": time.time(), "ctx": zero(), "ans": zero(), "acc": zero()}
    t_last = time.time()
    try:
        while True:
            if args.max_steps and steps_here >= args.max_steps:
                break
            if not args.max_steps and time.time() > deadline - args.reserve:
                break
            progress = (state["train_seconds"] - origin) / total_s
            b = choose_bucket(progress, curriculum, buckets, args.top_frac, rng)
            t0 = time.time()
            batch = fetch(queues[b], producers[b], b)
            acc["wait"] += time.time() - t0
            if steps_here == 0:  # producers starting up is not training time
                t_last = acc["t0"] = time.time()
                acc["wait"] = 0.0
            ids = torch.from_numpy(batch["ids"]).to(device, dtype=torch.long)
            kinds = torch.from_numpy(batch["kinds"]).to(device)
            mask = None
            if b >= args.star_min_bucket and rng.random() < args.star_frac:
                blocks = [max(64, int(c) // rng.choice(star_divs)) for c in batch["ctx"]]
                mask = star_mask(ids.shape[1], batch["ctx"].tolist(), blocks, device)
            lr = lr_at(args, state["step"], progress, steps_here, cold)
            for g in opt.param_groups:
                g["lr"] = lr
            with autocast(device):
                logits = step_model(input_ids=ids, attention_mask=mask).logits
            logits = logits[:, :-1].float()
            labels = ids[:, 1:]
            lk = kinds[:, 1:]
            ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="none").view_as(labels)
            is_ctx, is_ans = lk == KIND_CTX, lk == KIND_ANS
            loss_ctx = (ce * is_ctx).sum() / is_ctx.sum().clamp(min=1)
            loss_ans = (ce * is_ans).sum() / is_ans.sum().clamp(min=1)
            loss = args.ctx_loss * loss_ctx + loss_ans
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
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
            if acc["n"] >= args.log_every:
                n, elapsed = acc["n"], time.time() - acc["t0"]  # float() below waits for the GPU
                rec = {"type": "train", "step": state["step"], "tokens": state["tokens"],
                       "train_seconds": round(state["train_seconds"], 1), "progress": round(progress, 4), "lr": lr,
                       "bucket": b, "loss_ctx": round(float(acc["ctx"]) / n, 4), "loss_ans": round(float(acc["ans"]) / n, 4),
                       "acc_ans": round(float(acc["acc"]) / n, 4)}
                elapsed = time.time() - acc["t0"]
                rec["tok_per_s"] = round(acc["tok"] / max(elapsed, 1e-9))
                rec["data_wait_frac"] = round(acc["wait"] / max(elapsed, 1e-9), 3)
                print(f"step {rec['step']} p {progress:.3f} L<={b} lr {lr:.2e} loss ctx {rec['loss_ctx']:.3f} "
                      f"ans {rec['loss_ans']:.3f} acc {rec['acc_ans']:.3f} {rec['tok_per_s'] / 1e3:.0f}K tok/s "
                      f"(data wait {100 * rec['data_wait_frac']:.0f}%)", flush=True)
                log_metrics(rec)
                acc = {"n": 0, "tok": 0, "wait": 0.0, "t0": time.time(), "ctx": zero(), "ans": zero(), "acc": zero()}
            if state["train_seconds"] - last_eval >= args.eval_every and time.time() < deadline - args.reserve - 30:
                run_eval([int(x) for x in args.eval_lengths.split(",") if x], args.eval_samples,
                         [int(x) for x in args.eval_star_lengths.split(",") if x])
                save()
                last_eval = state["train_seconds"]
                t_last = time.time()
                acc["t0"] = time.time()
    finally:
        for p in procs:
            p.terminate()


def check_eval(model, heldout, tok, device, eos_id, bos_id):
    """The batched KV-cache decoder against one-at-a-time full recompute, global and Star, 2 samples a task."""
    length = min(heldout)
    recs = [r for t in TASKS for r in [x for x in heldout[length] if x["task"] == t][:2]]
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
    """The next batch of a bucket; fails (instead of waiting forever) once all its producers are dead."""
    while True:
        try:
            return q.get(timeout=10)
        except queue.Empty:
            if not any(p.is_alive() for p in procs):
                sys.exit(f"every data producer of bucket {bucket} died (see the traceback above)")


def tokenizer_stats(tok, data_dir):
    """Tokens per task and how keys, values and answers split, on a few held-out samples."""
    files = data_files(data_dir, "heldout")[:1] or data_files(data_dir, "train")[:1]
    by = {}
    for r in read_records(files):
        n = len(tok.encode(r["input"], add_special_tokens=False).ids)
        a = by.setdefault(r["task"], [0, 0, 0])
        a[0] += n
        a[1] += r["length"]
        a[2] += 1
        if a[2] == 1:
            print(f"  {r['task']}: target {tok.encode(r['target'], add_special_tokens=False).tokens}")
    for t, (n, approx, k) in by.items():
        print(f"  {t}: {n / k:.0f} BPE tokens per sample, {n / approx:.3f} × the budget tokenizer's count")


if __name__ == "__main__":
    main()
