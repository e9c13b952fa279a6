"""The bundled model's network for training: a Llama (RMSNorm, RoPE as transformers computes it, GQA,
SwiGLU, tied embeddings) whose state dict uses transformers' LlamaForCausalLM names, so the exported
safetensors load in the engine (and in transformers) as they are.

Attention paths, all exact (the self-test compares them in float64):
- packed (ATTN_PATH "varlen", train.py's default on the GPU): the batch as variable-length sequences in one
  flash-attention call a layer, no mask: a global row is one causal sequence; a Star row (context tokens see
  the anchor block and their own block, causally; query and answer tokens see everything before them) is its
  anchor, each later block over [anchor; block] and its tail over the whole row, each causal with the queries
  aligned to the end of the keys. Flash attention plans nothing per shape, so training's ever-changing row
  lengths cost nothing, and Star rows need no mask (H200, session 11: Star steps 6-45x faster than below);
- SDPA (ATTN_PATH "sdpa"): global rows through SDPA's causal flag; Star rows cut into blocks, each block's
  queries over [anchor; block] in one causal SDPA call of 2b keys (the anchor's own rows discarded), the tail
  in one call with a bottom-right causal mask; short rows through one dense boolean mask;
- decoding with a KV cache (eval), one query row per sequence over its cache.

Shapes: B rows, T tokens, H query heads, G KV heads, D head dim, C model dim.
"""

import contextlib
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# [compat] torch < 2.5 has no enable_gqa in scaled_dot_product_attention: K/V heads are repeated instead
try:
    F.scaled_dot_product_attention(torch.zeros(1, 2, 1, 4), torch.zeros(1, 1, 1, 4), torch.zeros(1, 1, 1, 4), enable_gqa=True)
    _GQA = True
except TypeError:
    _GQA = False


def sdpa(q, k, v, mask=None, causal=False):
    """q (B, H, Tq, D), k/v (B, G, Tk, D) → (B, H, Tq, D); mask bool (B or 1, 1, Tq, Tk), True = attend.
    Unmasked calls pass GQA through (flash attention takes it); masked ones repeat K/V heads, since not every
    torch 2.x memory-efficient kernel takes enable_gqa with a mask and the math fallback is O(T²) memory."""
    if _GQA and mask is None:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, enable_gqa=k.shape[1] != q.shape[1])
    rep = q.shape[1] // k.shape[1]
    if rep > 1:
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)


def star_rule(i, j, c, b):
    """Star Attention visibility (besides causality) of key j for query i, context c tokens, blocks of b with
    anchor = first block: context tokens see the anchor and their own block; later tokens see everything."""
    return (i >= c) | (i // b == 0) | (j < b) | (i // b == j // b)


def star_dense_mask(width, ctx, block, device):
    """(1, 1, width, width) bool: causal and star_rule, one row's context ctx and block size block."""
    i = torch.arange(width, device=device)[:, None]
    j = torch.arange(width, device=device)[None, :]
    return ((j <= i) & star_rule(i, j, ctx, block))[None, None]


# rows up to this many tokens take Star Attention through one dense mask, longer ones block by block
STAR_DENSE_BELOW = 4096
# "varlen": every causal and Star batch through star_varlen (one flash call a layer over packed sequences);
# "sdpa": causal batches through SDPA's causal flag, Star ones through the two paths above
ATTN_PATH = "sdpa"


@contextlib.contextmanager
def attention_paths(path=None, dense_below=None):
    """ATTN_PATH and STAR_DENSE_BELOW set for a block of code (None: left as they are), restored after it."""
    global ATTN_PATH, STAR_DENSE_BELOW
    saved = ATTN_PATH, STAR_DENSE_BELOW
    ATTN_PATH = saved[0] if path is None else path
    STAR_DENSE_BELOW = saved[1] if dense_below is None else dense_below
    try:
        yield
    finally:
        ATTN_PATH, STAR_DENSE_BELOW = saved


def to_device(t, device):
    """A CPU tensor on `device`, from pinned memory without a blocking copy: a blocking one waits for every
    queued kernel, so the CPU could not run ahead (the masks and plans are made once a forward)."""
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def star_batch_mask(width, ctxs, blocks, device):
    """(B, 1, width, width) bool: causal and star_rule for each row's context and block size (Llama.hidden
    makes it once a forward, not once a layer)."""
    i = torch.arange(width, device=device)[None, :, None]
    j = torch.arange(width, device=device)[None, None, :]
    c = to_device(torch.tensor(ctxs, dtype=torch.long), device)[:, None, None]
    b = to_device(torch.tensor(blocks, dtype=torch.long), device)[:, None, None]
    return ((j <= i) & star_rule(i, j, c, b))[:, None]


def star_attention(q, k, v, ctx, block):
    """One row's Star Attention: q (1, H, T, D), k/v (1, G, T, D); context ctx tokens, blocks of block."""
    T = q.shape[2]
    if T <= STAR_DENSE_BELOW or ctx <= block:
        return sdpa(q, k, v, mask=star_dense_mask(T, ctx, block, q.device))
    b = block
    nb = (ctx + b - 1) // b  # blocks, the last one maybe partial
    pad = nb * b - ctx
    qc, kc, vc = q[:, :, :ctx], k[:, :, :ctx], v[:, :, :ctx]
    if pad:  # padded rows/keys sit after the real ones in the last block: causality keeps them unseen
        qc, kc, vc = (F.pad(x, (0, 0, 0, pad)) for x in (qc, kc, vc))
    H, G, D = q.shape[1], k.shape[1], q.shape[3]
    qb = qc.view(1, H, nb, b, D).transpose(1, 2).reshape(nb, H, b, D)  # (nb, H, b, D)
    kb = kc.view(1, G, nb, b, D).transpose(1, 2).reshape(nb, G, b, D)
    vb = vc.view(1, G, nb, b, D).transpose(1, 2).reshape(nb, G, b, D)
    # block 0 is the anchor: causal over itself; block n ≥ 1: [anchor; block n], causal, anchor rows dropped
    out0 = sdpa(qb[:1], kb[:1], vb[:1], causal=True)
    if nb > 1:
        anc_k, anc_v = kb[:1].expand(nb - 1, -1, -1, -1), vb[:1].expand(nb - 1, -1, -1, -1)
        qq = torch.cat([torch.zeros_like(qb[1:]), qb[1:]], 2)
        kk, vv = torch.cat([anc_k, kb[1:]], 2), torch.cat([anc_v, vb[1:]], 2)
        outn = sdpa(qq, kk, vv, causal=True)[:, :, b:]
        blocks = torch.cat([out0, outn], 0)
    else:
        blocks = out0
    out_ctx = blocks.reshape(1, nb, H, b, D).transpose(1, 2).reshape(1, H, nb * b, D)[:, :, :ctx]
    if ctx == T:
        return out_ctx
    # the tail (question, answers, padding) sees every earlier token: bottom-right causal
    i = torch.arange(ctx, T, device=q.device)[:, None]
    j = torch.arange(T, device=q.device)[None, :]
    out_tail = sdpa(q[:, :, ctx:], k, v, mask=(j <= i)[None, None])
    return torch.cat([out_ctx, out_tail], 2)


def star_varlen_plan(T, ctxs, blocks, device):
    """Star Attention for a whole batch as packed variable-length sequences, no mask: per row, the anchor (its
    queries over itself), each later block (its queries over [anchor; block]) and the tail (question, answer
    and padding over the whole row), each causal with the queries aligned to the end of the keys (bottom-right).
    The queries are every token once, in token order; the keys are gathered by index. Returns (kidx (Tk,) long
    into the (B·T) tokens, cu_q, cu_k (N + 1,) int32, max_q, max_k), made once a forward, for every layer."""
    kidx, lq, lk = [], [], []
    for r, (c, b) in enumerate(zip(ctxs, blocks)):
        base = r * T
        c = min(int(c), T)
        b = max(1, min(int(b), c)) if c > 0 else 0
        if b:
            anchor = np.arange(base, base + b)
            kidx.append(anchor)
            lq.append(b)
            lk.append(b)
            for s in range(b, c, b):
                e = min(s + b, c)
                kidx.append(anchor)
                kidx.append(np.arange(base + s, base + e))
                lq.append(e - s)
                lk.append(b + e - s)
        if c < T:
            kidx.append(np.arange(base, base + T))
            lq.append(T - c)
            lk.append(T)
    kidx = torch.from_numpy(np.concatenate(kidx))
    cu_q = torch.from_numpy(np.concatenate([[0], np.cumsum(lq)]).astype(np.int32))
    cu_k = torch.from_numpy(np.concatenate([[0], np.cumsum(lk)]).astype(np.int32))
    return to_device(kidx, device), to_device(cu_q, device), to_device(cu_k, device), max(lq), max(lk)


def causal_varlen_plan(B, T, device):
    """star_varlen's plan for a causal batch: each row one sequence, its keys its own tokens (no gather)."""
    cu = to_device(torch.arange(0, (B + 1) * T, T, dtype=torch.int32), device)
    return None, cu, cu, T, T


def varlen_reference(q, k, v, cu_q, cu_k, max_q, max_k):
    """What a varlen flash call computes, one sequence at a time with an explicit bottom-right causal mask:
    q (Tq, H, D), k/v (Tk, G, D) packed. For the CPU self-test and the GPU check of the flash path."""
    outs = []
    cq, ck = cu_q.tolist(), cu_k.tolist()
    for i in range(len(cq) - 1):
        qs = q[cq[i]:cq[i + 1]].transpose(0, 1)[None]
        ks, vs = k[ck[i]:ck[i + 1]].transpose(0, 1)[None], v[ck[i]:ck[i + 1]].transpose(0, 1)[None]
        nq, nk = qs.shape[2], ks.shape[2]
        mask = torch.arange(nk, device=q.device)[None, :] <= torch.arange(nq, device=q.device)[:, None] + (nk - nq)
        outs.append(sdpa(qs, ks, vs, mask=mask[None, None])[0].transpose(0, 1))
    return torch.cat(outs, 0)


def varlen_flash(q, k, v, cu_q, cu_k, max_q, max_k):
    """One flash-attention call over packed sequences (PyTorch's own kernel; GQA passed through), causal with
    the queries aligned to the end of the keys, as flash attention aligns them when lengths differ."""
    return torch.ops.aten._flash_attention_forward(q, k, v, cu_q, cu_k, max_q, max_k, 0.0, True, False)[0]


def star_varlen(q, k, v, plan):
    """Attention for the batch as packed sequences: q (B, H, T, D), k/v (B, G, T, D), plan from star_varlen_plan
    (Star) or causal_varlen_plan (global) → (B, H, T, D). The flash kernel on the GPU, varlen_reference elsewhere."""
    B, H, T, D = q.shape
    G = k.shape[1]
    kidx, cu_q, cu_k, max_q, max_k = plan
    qp = q.transpose(1, 2).reshape(B * T, H, D)
    kp = k.transpose(1, 2).reshape(B * T, G, D)
    vp = v.transpose(1, 2).reshape(B * T, G, D)
    if kidx is not None:
        kp, vp = kp.index_select(0, kidx), vp.index_select(0, kidx)
    o = (varlen_flash if q.is_cuda else varlen_reference)(qp, kp, vp, cu_q, cu_k, max_q, max_k)
    return o.view(B, T, H, D).transpose(1, 2)


def check_varlen_gpu(device):
    """The flash kernel of star_varlen against the dense Star mask on this GPU (random bf16 q/k/v, 4 rows with a
    tail, without one and within one block, GQA 6/2 heads of 64): outputs and the gradients of q, k, v, as the
    largest error relative to the largest value. Returns the worst; train.py stops above 2e-2 (the H200 gives
    9.9e-3–1.1e-2: bf16 outputs and gradients against an f32 reference)."""
    g = torch.Generator(device="cpu").manual_seed(1)
    B, H, G, T, D = 4, 6, 2, 1024, 64
    ctxs, blocks = [1000, 1024, 700, 90], [256, 130, 64, 128]
    q = torch.randn(B, H, T, D, generator=g).to(device, torch.bfloat16).requires_grad_()
    k = torch.randn(B, G, T, D, generator=g).to(device, torch.bfloat16).requires_grad_()
    v = torch.randn(B, G, T, D, generator=g).to(device, torch.bfloat16).requires_grad_()
    dout = torch.randn(B, H, T, D, generator=g).to(device, torch.bfloat16)
    fast = star_varlen(q, k, v, star_varlen_plan(T, ctxs, blocks, device))
    grads = torch.autograd.grad(fast, (q, k, v), dout)
    qf, kf, vf = (x.detach().float().requires_grad_() for x in (q, k, v))
    ref = sdpa(qf, kf, vf, mask=star_batch_mask(T, ctxs, blocks, device))
    ref_grads = torch.autograd.grad(ref, (qf, kf, vf), dout.float())
    worst = 0.0
    for a, b in zip((fast, *grads), (ref, *ref_grads)):
        worst = max(worst, float((a.float() - b).detach().abs().max() / b.detach().abs().max()))
    return worst


class Rope(nn.Module):
    """cos/sin as transformers' default RoPE computes them: f32 inverse frequencies, f32 angles."""

    def __init__(self, head_dim, theta):
        super().__init__()
        inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
        self.register_buffer("inv_freq", inv, persistent=False)

    def forward(self, pos):
        """pos (B, T) long → cos, sin (B, 1, T, D) f32."""
        f = pos[:, :, None].float() * self.inv_freq[None, None, :]
        emb = torch.cat([f, f], -1)
        return emb.cos()[:, None], emb.sin()[:, None]


def rotate(x, cos, sin):
    """x (B, n, T, D): x·cos + rotate_half(x)·sin (transformers' convention: halves, not pairs)."""
    h = x.shape[-1] // 2
    rot = torch.cat([-x[..., h:], x[..., :h]], -1)
    return (x.float() * cos + rot.float() * sin).to(x.dtype)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        # as transformers: normalise in f32, scale in the input's dtype
        xf = x.float()
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * y.to(x.dtype)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, H, G = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
        D = cfg.get("head_dim") or C // H
        self.H, self.G, self.D = H, G, D
        self.q_proj = nn.Linear(C, H * D, bias=False)
        self.k_proj = nn.Linear(C, G * D, bias=False)
        self.v_proj = nn.Linear(C, G * D, bias=False)
        self.o_proj = nn.Linear(H * D, C, bias=False)

    def forward(self, x, cos, sin, spec, cache=None):
        """x (B, T, C). spec: ("causal",) | ("star", ctx list, block list) | ("decode", lens (B,)) with cache
        a (k, v) pair of (B, G, Tmax, D) buffers written at lens; ("prefill",) fills cache (k, v) lists."""
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.H, self.D).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.G, self.D).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.G, self.D).transpose(1, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        kind = spec[0]
        if kind == "causal" and len(spec) > 1:
            o = star_varlen(q, k, v, spec[1][1])
        elif kind == "causal":
            o = sdpa(q, k, v, causal=True)
        elif kind == "star" and len(spec) > 3 and spec[3][0] == "varlen":
            o = star_varlen(q, k, v, spec[3][1])
        elif kind == "star" and T <= STAR_DENSE_BELOW:  # short rows: one call, one (B, 1, T, T) mask
            o = sdpa(q, k, v, mask=spec[3][1] if len(spec) > 3 else star_batch_mask(T, spec[1], spec[2], x.device))
        elif kind == "star":
            o = torch.cat([star_attention(q[r:r + 1], k[r:r + 1], v[r:r + 1], spec[1][r], spec[2][r]) for r in range(B)], 0)
        elif kind == "decode":  # one new token per row at position lens[r]
            kc, vc, lens = cache[0], cache[1], spec[1]
            rows = torch.arange(B, device=x.device)
            kc[rows, :, lens] = k[:, :, 0]
            vc[rows, :, lens] = v[:, :, 0]
            n = int(lens.max()) + 1
            mask = (torch.arange(n, device=x.device)[None, :] <= lens[:, None])[:, None, None]
            o = sdpa(q, kc[:, :, :n], vc[:, :, :n], mask=mask)
        else:
            raise ValueError(kind)
        if cache is not None and kind != "decode":
            cache.append((k, v))
        return self.o_proj(o.transpose(1, 2).reshape(B, T, self.H * self.D))


class Mlp(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, F_ = cfg["hidden_size"], cfg["intermediate_size"]
        self.gate_proj = nn.Linear(C, F_, bias=False)
        self.up_proj = nn.Linear(C, F_, bias=False)
        self.down_proj = nn.Linear(F_, C, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.mlp = Mlp(cfg)

    def forward(self, x, cos, sin, spec, cache=None):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, spec, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class Inner(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList([Layer(cfg) for _ in range(cfg["num_hidden_layers"])])
        self.norm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])


class Llama(nn.Module):
    """model.* and (untied only) lm_head.weight, as LlamaForCausalLM names them."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = dict(cfg)
        self.model = Inner(cfg)
        D = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
        theta = (cfg.get("rope_parameters") or {}).get("rope_theta") or cfg.get("rope_theta", 10000.0)
        self.rope = Rope(D, theta)
        assert cfg.get("tie_word_embeddings", True), "only tied embeddings are built here"

    def hidden(self, ids, spec=("causal",), pos=None, caches=None):
        """ids (B, T) → final-norm hidden states (B, T, C); caches: a list per layer (prefill) or (k, v) pairs."""
        B, T = ids.shape
        if pos is None:
            pos = torch.arange(T, device=ids.device)[None].expand(B, T)
        cos, sin = self.rope(pos)
        x = self.model.embed_tokens(ids)
        if spec == ("causal",) and ATTN_PATH == "varlen" and T > 1:
            spec = ("causal", ("varlen", causal_varlen_plan(B, T, ids.device)))
        elif spec[0] == "star" and len(spec) == 3:  # the plan or the dense mask once, for every layer
            if ATTN_PATH == "varlen":
                spec = (*spec, ("varlen", star_varlen_plan(T, spec[1], spec[2], ids.device)))
            elif T <= STAR_DENSE_BELOW:
                spec = (*spec, ("mask", star_batch_mask(T, spec[1], spec[2], ids.device)))
        for li, layer in enumerate(self.model.layers):
            x = layer(x, cos, sin, spec, None if caches is None else caches[li])
        return self.model.norm(x)

    def logits(self, h):
        return F.linear(h, self.model.embed_tokens.weight)

    def forward(self, ids, spec=("causal",), pos=None):
        return self.logits(self.hidden(ids, spec, pos))


def llama_config(vocab, dim, layers, heads, kv_heads, hidden, theta, max_pos, bos_id, eos_id):
    """config.json as transformers writes it for LlamaForCausalLM (the engine reads these fields)."""
    return {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": bos_id, "eos_token_id": eos_id, "dtype": "bfloat16", "head_dim": dim // heads,
        "hidden_act": "silu", "hidden_size": dim, "initializer_range": 0.02, "intermediate_size": hidden,
        "max_position_embeddings": max_pos, "mlp_bias": False, "model_type": "llama", "num_attention_heads": heads,
        "num_hidden_layers": layers, "num_key_value_heads": kv_heads, "pad_token_id": None, "pretraining_tp": 1,
        "rms_norm_eps": 1e-5, "rope_parameters": {"rope_theta": float(theta), "rope_type": "default"},
        "tie_word_embeddings": True, "use_cache": True, "vocab_size": vocab,
    }


def init_weights(model):
    """GPT-2 style: normal(0.02), residual-branch outputs scaled by 1/sqrt(2·layers), norms 1."""
    n = model.cfg["num_hidden_layers"]
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 2:
                nn.init.normal_(p, 0.0, 0.02)
                if name.endswith(("o_proj.weight", "down_proj.weight")):
                    p.mul_(1 / math.sqrt(2 * n))


def self_test():
    """The block-by-block Star path against the dense mask, and decoding against a full forward (CPU, f64)."""
    torch.manual_seed(0)
    worst = 0.0
    for T, ctx, b in [(300, 260, 64), (256, 256, 64), (200, 150, 37), (130, 120, 200), (97, 96, 24)]:
        q = torch.randn(1, 4, T, 16, dtype=torch.float64)
        k, v = torch.randn(1, 2, T, 16, dtype=torch.float64), torch.randn(1, 2, T, 16, dtype=torch.float64)
        with attention_paths(dense_below=0):
            blockwise = star_attention(q, k, v, ctx, b)
        dense = sdpa(q, k, v, mask=star_dense_mask(T, ctx, b, q.device))
        worst = max(worst, float((blockwise - dense).abs().max()))
    assert worst < 1e-12, worst
    cfg = llama_config(64, 32, 2, 4, 2, 48, 500000.0, 4096, 1, 2)
    m = Llama(cfg).double()
    init_weights(m)
    # a batch whose rows have their own context and block: the batched dense mask (built once in hidden) against
    # each row alone through the block path
    ids3 = torch.randint(0, 64, (3, 150))
    spec3 = ("star", [140, 150, 100], [64, 37, 24])
    with attention_paths("sdpa"):
        batched = m(ids3, spec3)
    with attention_paths("sdpa", dense_below=0):
        rows = torch.cat([m(ids3[r:r + 1], ("star", [spec3[1][r]], [spec3[2][r]])) for r in range(3)], 0)
    worst = max(worst, float((batched - rows).detach().abs().max()))
    assert worst < 1e-10, worst
    # the packed-sequence path (star_varlen; its CPU kernel is varlen_reference) against the dense mask, rows
    # with a context shorter than the row (tail), equal to it, and no longer than one block
    ids4 = torch.randint(0, 64, (4, 150))
    spec4 = ("star", [140, 150, 100, 40], [64, 37, 24, 64])
    with attention_paths("varlen"):
        packed = m(ids4, spec4)
        packed_causal = m(ids4)
    with attention_paths("sdpa"):
        masked = m(ids4, spec4)
        causal = m(ids4)
    worst = max(worst, float((packed - masked).detach().abs().max()), float((packed_causal - causal).detach().abs().max()))
    assert worst < 1e-10, worst
    ids = torch.randint(0, 64, (1, 40))
    full = m(ids)
    caches = [[] for _ in range(2)]
    m.hidden(ids[:, :30], caches=caches)
    kc = [torch.zeros(1, 2, 41, 8, dtype=torch.float64) for _ in range(2)]
    vc = [torch.zeros(1, 2, 41, 8, dtype=torch.float64) for _ in range(2)]
    for li, ((k, v),) in enumerate(caches):
        kc[li][:, :, :30], vc[li][:, :, :30] = k, v
    dec = []
    for t in range(30, 40):
        pos = torch.tensor([t])
        dec.append(m.logits(m.hidden(ids[:, t:t + 1], ("decode", pos), pos=pos[:, None], caches=list(zip(kc, vc))))[0, -1])
    err = float((torch.stack(dec) - full[0, 30:]).detach().abs().max())
    assert err < 1e-10, err
    print(f"model self-test: Star block and packed paths vs dense mask, packed causal vs SDPA {worst:.1e}, KV-cache decode vs full forward {err:.1e}")


if __name__ == "__main__":
    self_test()
