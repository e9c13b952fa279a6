"""Data for scripts/train/train.py: records from make_data.ts, the BPE tokenizer, augmentation, extra
questions, token ids with loss kinds, and the batch producers (processes) whose output is a deterministic
function of (seed, bucket, pool index), so a resumed run continues the data stream exactly."""

import glob
import gzip
import json
import lzma
import os
import random
import re
import sys
import time
import uuid

import numpy as np

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
         "niah_multikey_3", "niah_multivalue", "niah_multiquery", "vt", "cwe", "fwe", "qa_gen"]
# RULER's metric per task: all references (string_match_all) or any one (string_match_part, the QA tasks)
PART_METRIC = {"qa_gen", "qa_1", "qa_2"}
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


CWE_TARGET_RE = re.compile(r"\d+\. ([a-z]+)")


def augment(rec, pieces, rng, cwe_order="shuffle"):
    """Re-draws the random parts of a sample (values, UUIDs, VT names, coded words, CWE word identities),
    the same way in every piece (context, query, targets). pieces: dict name → str; returns a new dict.
    cwe_order "shuffle": the CWE answer lists the 10 words in a fresh random order each time (RULER scores
    recall only, so the model is taught the set, not an order it cannot see); "first": first occurrence."""
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
        if cwe_order == "shuffle":
            shuffle_cwe_target(out, rng)
    return out


def shuffle_cwe_target(pieces, rng):
    """' 1. a 2. b …' → the same words renumbered in a random order."""
    words = CWE_TARGET_RE.findall(pieces["target"])
    if len(words) > 1:
        rng.shuffle(words)
        pieces["target"] = " " + " ".join(f"{i + 1}. {w}" for i, w in enumerate(words))


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


def example_pieces(rec, rng=None, n_extra=0, do_augment=False, cwe_order="shuffle"):
    """The texts of one example: context, query, target, then extra (question, answer) pairs xq{i}/target{i}."""
    extras = extra_questions(rec, rng, n_extra) if rng is not None else []
    pieces = {"context": rec["context"], "query": rec["query"], "target": rec["target"]}
    for i, (q, a) in enumerate(extras):
        pieces[f"xq{i}"], pieces[f"target{i}"] = q, a
    if do_augment and rng is not None:
        pieces = augment(rec, pieces, rng, cwe_order)
    elif rng is not None and rec["task"] == "cwe" and cwe_order == "shuffle":
        shuffle_cwe_target(pieces, rng)
    return pieces


def build_examples(recs, tok, bos_id, eos_id, rng=None, n_extra=0, do_augment=False, max_len=None, cwe_order="shuffle"):
    """Token ids [BOS] context query target EOS (extra-question answer EOS)*, the loss kind of each token
    and the context length (BOS + context: what Star Attention splits into blocks). Context and query are
    encoded apart, as `star-attn ruler` does. All texts go through one encode_batch (parallel in Rust)."""
    all_pieces = [example_pieces(r, rng, n_extra, do_augment, cwe_order) for r in recs]
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


def pool_size(tokens_per_step, bucket):
    """Examples per pool: about 4 steps' worth, sorted by length so that rows of a batch pad little."""
    return max(8, 4 * tokens_per_step // max(1, int(0.8 * bucket)))


def pool_batches(recs, p, tok, bos_id, eos_id, bucket, tokens_per_step, n_extra, do_augment, cwe_order, seed,
                 pad_multiple=64):
    """The batches of pool p of a bucket's stream: a pure function of (records, seed, bucket, p). Epoch e =
    p // pools per epoch shuffles the records with its own seed; the pool's RNG draws augmentation, extra
    questions and the batch order."""
    n = pool_size(tokens_per_step, bucket)
    per_epoch = max(1, (len(recs) + n - 1) // n)
    epoch, k = divmod(p, per_epoch)
    order = list(range(len(recs)))
    random.Random(f"{seed}:{bucket}:epoch:{epoch}").shuffle(order)
    rng = random.Random(f"{seed}:{bucket}:pool:{p}")
    pool = build_examples([recs[i] for i in order[k * n:(k + 1) * n]], tok, bos_id, eos_id, rng, n_extra, do_augment,
                          bucket + 512, cwe_order)
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
    return [collate(b, bucket, pad_multiple) for b in batches]


def producer(files, tok_dir, bucket, tokens_per_step, n_extra, do_augment, cwe_order, seed, worker, n_workers,
             start, q, pad_multiple=64):
    """Worker `worker` of `n_workers` for one bucket: pools p ≡ worker (mod n_workers) from start = (pool,
    batch) on, each batch put as (p, i, batches in pool, batch). The consumer takes pools in order."""
    os.environ["RAYON_NUM_THREADS"] = "4"  # before tokenizers starts its pool: many producers share the CPU
    tok = load_tokenizer(tok_dir)
    bos_id, eos_id = tok.token_to_id(BOS), tok.token_to_id(EOS)
    recs = list(read_records(files))
    p0, skip = start
    p = p0 + (worker - p0) % n_workers
    while True:
        batches = pool_batches(recs, p, tok, bos_id, eos_id, bucket, tokens_per_step, n_extra, do_augment, cwe_order, seed,
                               pad_multiple)
        for i, b in enumerate(batches):
            if p == p0 and i < skip:
                continue
            q.put((p, i, len(batches), b))
        p += n_workers


def collate(examples, bucket, pad_multiple=64):
    # rows padded to a multiple of pad_multiple (the batches themselves are packed by multiples of 64 whatever it
    # is, so a coarser padding changes the shapes a step sees, never which samples it holds)
    width = (max(len(e[0]) for e in examples) + pad_multiple - 1) // pad_multiple * pad_multiple
    ids = np.zeros((len(examples), width), np.int32)
    kinds = np.zeros((len(examples), width), np.int8)
    for r, (i, k, _) in enumerate(examples):
        ids[r, : len(i)] = i
        kinds[r, : len(k)] = k
    return {"ids": ids, "kinds": kinds, "ctx": np.asarray([e[2] for e in examples], np.int32), "bucket": bucket}

