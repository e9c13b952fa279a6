#!/usr/bin/env python3
"""GGUF (v3) files of random-weight Llama models for the peer benchmark (issue 13 item 5). numpy + stdlib only.

  python3 scripts/peer/make_gguf.py random --config llama-3.2-1b --type q4_0 --out /tmp/peer/l1b-q4_0.gguf
  python3 scripts/peer/make_gguf.py inspect /tmp/peer/l1b-q4_0.gguf [--json]
  python3 scripts/peer/make_gguf.py quant-vectors --out /tmp/qv.gguf     (f32 source + its Q8_0 / Q4_0 blocks)
  python3 scripts/peer/make_gguf.py shapes                                (the configs below, as JSON)

`random` writes llama.cpp's `llama` architecture in the shape of scripts/bench/shapes.ts (the same model our
engine builds with `--config`): token_embd, per layer attn_norm/q/k/v/output + ffn_norm/gate/up/down,
output_norm, output (8B, untied), and rope_freqs (Llama 3's rope scaling, as convert_hf_to_gguf.py writes it).
Weight types, matching our engine's `--storage`:
  f32, f16, bf16  every matrix in that type (norms and rope_freqs stay f32, as in llama.cpp's converter);
  q8_0, q4_0      the seven projections of every layer block-quantized; token_embd / output in --embed-type
                  (default f16: our engine keeps the embedding and LM head 16-bit under q8_0/q4_0, so the
                  two read the same weight bytes; `q` quantizes them too, like a llama-quantize'd file).
Quantized blocks come from llama.cpp's reference quantizers (quantize_row_q8_0_ref / _q4_0_ref), replayed in
f32 arithmetic exactly as src/model/quant.ts does (scripts/peer/check_quant.ts checks the bytes against it),
applied to random normal weights (std 1/sqrt(fan-in)). Writing random blocks directly would be faster but
speed does not depend on the values, and this way the blocks are the ones llama.cpp's quantizer makes.
A byte-level BPE vocabulary of the config's size (benchmarks feed token ids). Tensors are streamed to disk in
row chunks, so memory stays around a few chunks (~100 MB) whatever the model size.
"""
import argparse, json, math, os, struct, sys, time
import numpy as np

GGUF_MAGIC = 0x46554747  # b'GGUF' little-endian
T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64 = range(13)
# ggml type: (id, values per block, bytes per block)
GGML = {'f32': (0, 1, 4), 'f16': (1, 1, 2), 'q4_0': (2, 32, 18), 'q8_0': (8, 32, 34), 'bf16': (30, 1, 2)}
GGML_NAME = {v[0]: k for k, v in GGML.items()}
FILE_TYPE = {'f32': 0, 'f16': 1, 'q4_0': 2, 'q8_0': 7, 'bf16': 32}  # LLAMA_FTYPE_ALL_F32, MOSTLY_F16, ...
ALIGN = 32  # general.alignment's default
QK = 32

# scripts/bench/shapes.ts, as HF config fields (check.sh compares the two)
_L1B = dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
            num_key_value_heads=8, head_dim=64, vocab_size=128256, max_position_embeddings=131072,
            rms_norm_eps=1e-5, rope_theta=500000,
            rope_scaling=dict(rope_type='llama3', factor=32, low_freq_factor=1, high_freq_factor=4,
                              original_max_position_embeddings=8192),
            tie_word_embeddings=True)
CONFIGS = {
    'llama-3.2-1b': _L1B,
    'llama-3.1-8b': dict(_L1B, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                         num_key_value_heads=8, head_dim=128, tie_word_embeddings=False,
                         rope_scaling=dict(_L1B['rope_scaling'], factor=8)),
    'tiny': dict(_L1B, hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=32, vocab_size=1024),
}


# ---------------------------------------------------------------------------------------------- encoders
def f32_to_bf16(a):
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype('<u2')  # round to nearest even (no NaNs here)


def quant_q8_0(x):
    """(n, 32) f32 -> (n, 34) uint8 blocks: f16 d, 32 int8. quantize_row_q8_0_ref in f32 arithmetic."""
    x = np.asarray(x, dtype=np.float32).reshape(-1, QK)
    amax = np.abs(x).max(axis=1)
    d = amax / np.float32(127)  # f32 / f32: correctly rounded, as C and Math.fround(a / 127)
    with np.errstate(divide='ignore'):
        idv = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    v = (x * idv[:, None]).astype(np.float64)  # the f32 product, widened exactly
    q = (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int8)  # roundf: half away from zero (in f64: exact)
    out = np.empty((x.shape[0], 34), np.uint8)
    out[:, :2] = d.astype('<f2').view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out


def quant_q4_0(x):
    """(n, 32) f32 -> (n, 18) uint8 blocks: f16 d, 16 bytes (element j low nibble, j + 16 high).
    quantize_row_q4_0_ref: max = the element of largest |x| (the first if tied), d = max / -8,
    q = min(15, (int)(x * (1/d) + 8.5f)), all in f32."""
    x = np.asarray(x, dtype=np.float32).reshape(-1, QK)
    i = np.abs(x).argmax(axis=1)  # first occurrence of the largest |x|, as the C loop's strict '<'
    mx = x[np.arange(x.shape[0]), i]
    d = mx / np.float32(-8)
    with np.errstate(divide='ignore'):
        idv = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    v = (x * idv[:, None]).astype(np.float32) + np.float32(8.5)  # two f32 roundings, like C without FMA
    q = np.minimum(np.float32(15), np.trunc(v)).astype(np.uint8)
    out = np.empty((x.shape[0], 18), np.uint8)
    out[:, :2] = d.astype('<f2').view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
    return out


def encode(a, t):
    """A (rows, cols) f32 chunk in ggml type t, as bytes in file order."""
    if t == 'f32': return np.ascontiguousarray(a, dtype='<f4').tobytes()
    if t == 'f16': return np.ascontiguousarray(a, dtype='<f2').tobytes()
    if t == 'bf16': return f32_to_bf16(a).tobytes()
    if t == 'q8_0': return quant_q8_0(a).tobytes()
    if t == 'q4_0': return quant_q4_0(a).tobytes()
    raise ValueError(t)


def nbytes_of(shape, t):
    _, blk, bb = GGML[t]
    n = int(np.prod(shape))
    assert shape[-1] % blk == 0, (shape, t)
    return n // blk * bb


# ---------------------------------------------------------------------------------------------- writer
def _s(b, x):
    x = x.encode('utf-8') if isinstance(x, str) else x
    b += struct.pack('<Q', len(x)); b += x


def _val(b, t, v):
    if t == T_STR: _s(b, v)
    elif t == T_ARR:
        et, items = v
        b += struct.pack('<IQ', et, len(items))
        if et == T_STR:
            for it in items: _s(b, it)
        else:
            fmt = {T_I32: 'i', T_U32: 'I', T_F32: 'f', T_U8: 'B', T_I8: 'b', T_BOOL: '?'}[et]
            b += struct.pack('<%d%s' % (len(items), fmt), *items)
    else:
        b += struct.pack('<' + {T_U32: 'I', T_I32: 'i', T_F32: 'f', T_BOOL: '?', T_U64: 'Q', T_F64: 'd',
                               T_U8: 'B', T_I8: 'b', T_U16: 'H', T_I16: 'h', T_I64: 'q'}[t], v)


def write_gguf(path, kv, tensors, chunk_values=1 << 22):
    """kv: [(key, type, value)]; tensors: [(name, shape (rows, cols) numpy order, ggml type, producer)] where
    producer(r0, r1) returns rows r0..r1 as f32. Tensors are written in chunks of rows."""
    hdr = bytearray(struct.pack('<IIQQ', GGUF_MAGIC, 3, len(tensors), len(kv)))
    for k, t, v in kv:
        _s(hdr, k); hdr += struct.pack('<I', t); _val(hdr, t, v)
    off, sizes = 0, []
    for name, shape, t, _ in tensors:
        n = nbytes_of(shape, t)
        _s(hdr, name); hdr += struct.pack('<I', len(shape))
        hdr += struct.pack('<%dQ' % len(shape), *reversed(shape))  # ggml ne[0] = the innermost dim
        hdr += struct.pack('<IQ', GGML[t][0], off)
        sizes.append(n); off += (n + ALIGN - 1) // ALIGN * ALIGN
    hdr += b'\0' * (-len(hdr) % ALIGN)
    tmp = path + '.part'
    with open(tmp, 'wb') as f:
        f.write(hdr)
        for (name, shape, t, prod), n in zip(tensors, sizes):
            rows = shape[0] if len(shape) > 1 else 1
            cols = int(np.prod(shape)) // rows
            step = max(1, chunk_values // cols)
            wrote = 0
            for r0 in range(0, rows, step):
                r1 = min(rows, r0 + step)
                a = prod(r0, r1)
                assert a.shape == ((r1 - r0, cols) if len(shape) > 1 else (cols,)), (name, a.shape, shape)
                b = encode(a.reshape(r1 - r0, cols), t)
                f.write(b); wrote += len(b)
            assert wrote == n, (name, wrote, n)
            f.write(b'\0' * (-n % ALIGN))
    os.replace(tmp, path)
    return os.path.getsize(path)


# ---------------------------------------------------------------------------------------------- reader
def read_gguf(path):
    """Header of a GGUF v2/v3 file: (version, kv dict, tensors [dict], data offset). Checks what it can."""
    f = open(path, 'rb')
    size = os.fstat(f.fileno()).st_size
    def rd(fmt):
        n = struct.calcsize('<' + fmt); b = f.read(n)
        if len(b) != n: raise ValueError('truncated header')
        return struct.unpack('<' + fmt, b)
    def rs():
        (n,) = rd('Q')
        if n > 1 << 24: raise ValueError('string too long')
        return f.read(n).decode('utf-8')
    scal = {T_U8: 'B', T_I8: 'b', T_U16: 'H', T_I16: 'h', T_U32: 'I', T_I32: 'i', T_F32: 'f', T_BOOL: '?',
            T_U64: 'Q', T_I64: 'q', T_F64: 'd'}
    def rv(t):
        if t == T_STR: return rs()
        if t == T_ARR:
            et, n = rd('IQ')
            return [rv(et) for _ in range(n)] if et in (T_STR, T_ARR) else list(rd('%d%s' % (n, scal[et])))
        return rd(scal[t])[0]
    magic, ver = rd('II')
    if magic != GGUF_MAGIC: raise ValueError('not a GGUF file')
    if ver not in (2, 3): raise ValueError('GGUF version %d' % ver)
    nt, nkv = rd('QQ')
    kv = {}
    for _ in range(nkv):
        k = rs(); (t,) = rd('I'); kv[k] = rv(t)
    align = kv.get('general.alignment', ALIGN)
    tensors = []
    for _ in range(nt):
        name = rs(); (nd,) = rd('I'); ne = list(rd('%dQ' % nd)); (tid,) = rd('I'); (o,) = rd('Q')
        t = GGML_NAME.get(tid)
        if t is None: raise ValueError('%s: ggml type %d not known here' % (name, tid))
        shape = tuple(reversed(ne))
        tensors.append(dict(name=name, type=t, shape=shape, offset=o, nbytes=nbytes_of(shape, t)))
    data = (f.tell() + align - 1) // align * align
    end = data
    for t in sorted(tensors, key=lambda t: t['offset']):
        if t['offset'] % align: raise ValueError('%s: offset %d not aligned' % (t['name'], t['offset']))
        if data + t['offset'] < end: raise ValueError('%s overlaps the tensor before it' % t['name'])
        end = data + t['offset'] + t['nbytes']
    if end > size: raise ValueError('data runs past the end of the file (%d > %d)' % (end, size))
    return ver, kv, tensors, data


def tensor_bytes(path, t, data):
    with open(path, 'rb') as f:
        f.seek(data + t['offset']); return f.read(t['nbytes'])


# ---------------------------------------------------------------------------------------------- models
def bytes_to_unicode():  # GPT-2's byte-level alphabet: the first 256 tokens
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs: bs.append(b); cs.append(256 + n); n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs))]


def llama3_rope_factors(c):
    """convert_hf_to_gguf.py's LlamaModel rope_freqs for rope_type llama3 (f32 arithmetic as torch there)."""
    rs = c['rope_scaling']; hd = c['head_dim']; base = float(c['rope_theta'])
    freqs = 1.0 / (np.float32(base) ** (np.arange(0, hd, 2, dtype=np.float32) / np.float32(hd)))
    factor, lo, hi = rs.get('factor', 8.0), rs.get('low_freq_factor', 1.0), rs.get('high_freq_factor', 4.0)
    old = rs.get('original_max_position_embeddings', 8192)
    lo_wl, hi_wl = old / lo, old / hi
    out = []
    for fr in freqs:
        wl = 2 * math.pi / float(fr)
        if wl < hi_wl: out.append(1.0)
        elif wl > lo_wl: out.append(float(factor))
        else:
            s = (old / wl - lo) / (hi - lo)
            out.append(1 / ((1 - s) / factor + s))
    return np.array(out, np.float32)


def random_model(config, wtype, embed_type='auto', seed=0, rope_freqs=True):
    h = CONFIGS[config]
    D, L, H, KV, HD, F, V = (h['hidden_size'], h['num_hidden_layers'], h['num_attention_heads'],
                             h['num_key_value_heads'], h['head_dim'], h['intermediate_size'], h['vocab_size'])
    tied = h['tie_word_embeddings']
    quant = wtype in ('q8_0', 'q4_0')
    if embed_type == 'auto': et = 'f16' if quant else wtype
    elif embed_type == 'q': et = wtype
    else: et = embed_type

    def rnd(idx, cols):  # normal(0, 1/sqrt(cols)); one generator per tensor, drawn chunk after chunk
        g = np.random.default_rng([seed, idx]); sc = np.float32(1 / math.sqrt(cols))
        return lambda r0, r1: g.standard_normal((r1 - r0, cols), dtype=np.float32) * sc
    def const(n, v): return lambda r0, r1: np.full(n, v, np.float32)

    T = []
    def mat(name, rows, cols, t): T.append((name, (rows, cols), t, rnd(len(T), cols)))
    mat('token_embd.weight', V, D, et)
    if rope_freqs and (h.get('rope_scaling') or {}).get('rope_type') == 'llama3':
        rf = llama3_rope_factors(h)
        T.append(('rope_freqs.weight', (HD // 2,), 'f32', lambda r0, r1: rf))
    for i in range(L):
        p = 'blk.%d.' % i
        T.append((p + 'attn_norm.weight', (D,), 'f32', const(D, 1.0)))
        mat(p + 'attn_q.weight', H * HD, D, wtype)
        mat(p + 'attn_k.weight', KV * HD, D, wtype)
        mat(p + 'attn_v.weight', KV * HD, D, wtype)
        mat(p + 'attn_output.weight', D, H * HD, wtype)
        T.append((p + 'ffn_norm.weight', (D,), 'f32', const(D, 1.0)))
        mat(p + 'ffn_gate.weight', F, D, wtype)
        mat(p + 'ffn_up.weight', F, D, wtype)
        mat(p + 'ffn_down.weight', D, F, wtype)
    T.append(('output_norm.weight', (D,), 'f32', const(D, 1.0)))
    if not tied: mat('output.weight', V, D, et)

    # vocabulary: 256 byte tokens, fillers, then <|begin_of_text|> / <|end_of_text|> (control)
    tokens = bytes_to_unicode() + ['<|t%d|>' % i for i in range(256, V - 2)] + ['<|begin_of_text|>', '<|end_of_text|>']
    toktypes = [1] * (V - 2) + [3, 3]
    kv = [
        ('general.architecture', T_STR, 'llama'),
        ('general.name', T_STR, 'random-%s-%s' % (config, wtype)),
        ('general.file_type', T_U32, FILE_TYPE[wtype]),
        ('general.quantization_version', T_U32, 2),
        ('llama.vocab_size', T_U32, V), ('llama.context_length', T_U32, h['max_position_embeddings']),
        ('llama.embedding_length', T_U32, D), ('llama.block_count', T_U32, L),
        ('llama.feed_forward_length', T_U32, F), ('llama.attention.head_count', T_U32, H),
        ('llama.attention.head_count_kv', T_U32, KV),
        ('llama.attention.key_length', T_U32, HD), ('llama.attention.value_length', T_U32, HD),
        ('llama.rope.dimension_count', T_U32, HD), ('llama.rope.freq_base', T_F32, float(h['rope_theta'])),
        ('llama.attention.layer_norm_rms_epsilon', T_F32, h['rms_norm_eps']),
        ('tokenizer.ggml.model', T_STR, 'gpt2'), ('tokenizer.ggml.pre', T_STR, 'llama-bpe'),
        ('tokenizer.ggml.tokens', T_ARR, (T_STR, tokens)), ('tokenizer.ggml.token_type', T_ARR, (T_I32, toktypes)),
        ('tokenizer.ggml.merges', T_ARR, (T_STR, [])),
        ('tokenizer.ggml.bos_token_id', T_U32, V - 2), ('tokenizer.ggml.eos_token_id', T_U32, V - 1),
        ('tokenizer.ggml.add_bos_token', T_BOOL, False),
    ]
    return kv, T, dict(config=config, type=wtype, embed_type=et)


def quant_vectors(seed=1):
    """A (rows, 64) f32 matrix (the quantizers' edge cases, then random rows of many scales), and the same
    matrix as Q8_0 and Q4_0."""
    g = np.random.default_rng(seed)
    rows = [g.standard_normal(64).astype(np.float32) * np.float32(s) for s in (1, 0.02, 1e-3, 30, 1e4)]
    z = np.zeros(64, np.float32); rows.append(z)                                  # all-zero blocks: d = 0
    t = g.standard_normal(64).astype(np.float32); t[3] = 2.0; t[9] = -2.0; rows.append(t)   # |max| tied: first wins
    t = np.full(64, -1.0, np.float32); t[5] = 1.0; rows.append(t)                 # negative max
    t = g.standard_normal(64).astype(np.float32) * np.float32(1e-6); rows.append(t)   # scales in f16's subnormals
    t = g.standard_normal(64).astype(np.float32) * np.float32(1e-9); rows.append(t)   # scales that flush to 0 in f16
    t = (np.arange(64, dtype=np.float32) - 31.5) / np.float32(31.5) * np.float32(127); rows.append(t)  # exact halves
    t = g.integers(-127, 128, 64).astype(np.float32) / np.float32(127) + np.float32(0.5) / np.float32(127); rows.append(t)
    sc = np.float32(10) ** g.uniform(-7, 4, (1000, 1)).astype(np.float32)          # 1000 random rows, many scales
    x = np.concatenate([np.stack(rows), g.standard_normal((1000, 64)).astype(np.float32) * sc]).astype(np.float32)
    r, c = x.shape
    T = [('src', (r, c), 'f32', lambda r0, r1: x[r0:r1]), ('q8', (r, c), 'q8_0', lambda r0, r1: x[r0:r1]),
         ('q4', (r, c), 'q4_0', lambda r0, r1: x[r0:r1])]
    return [('general.architecture', T_STR, 'quant-vectors')], T


# ---------------------------------------------------------------------------------------------- CLI
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='mode', required=True)
    r = sub.add_parser('random')
    r.add_argument('--config', choices=sorted(CONFIGS), default='llama-3.2-1b')
    r.add_argument('--type', choices=['f32', 'f16', 'bf16', 'q8_0', 'q4_0'], required=True)
    r.add_argument('--embed-type', choices=['auto', 'q', 'f32', 'f16', 'bf16'], default='auto',
                   help='token_embd / output: auto = the weight type, f16 under q8_0/q4_0; q = the quant type')
    r.add_argument('--no-rope-freqs', action='store_true', help='omit rope_freqs.weight (plain RoPE theta)')
    r.add_argument('--seed', type=int, default=0)
    r.add_argument('--out', required=True)
    i = sub.add_parser('inspect'); i.add_argument('file'); i.add_argument('--json', action='store_true')
    i.add_argument('--expect-config', choices=sorted(CONFIGS), help='check tensors against `random --config`')
    i.add_argument('--expect-type', choices=['f32', 'f16', 'bf16', 'q8_0', 'q4_0'])
    i.add_argument('--expect-embed-type', default='auto')
    q = sub.add_parser('quant-vectors'); q.add_argument('--out', required=True)
    sub.add_parser('shapes')
    a = ap.parse_args()
    t0 = time.time()
    if a.mode == 'shapes':
        print(json.dumps(CONFIGS)); return
    if a.mode == 'inspect':
        ver, kv, tensors, data = read_gguf(a.file)
        meta = {k: (v if not isinstance(v, list) or len(v) <= 8 else '[%d items]' % len(v)) for k, v in kv.items()}
        types = {}
        for t in tensors: types[t['type']] = types.get(t['type'], 0) + t['nbytes']
        res = dict(file=a.file, version=ver, bytes=os.path.getsize(a.file), data_offset=data, kv=meta,
                   tensor_bytes_by_type=types, tensors=tensors)
        if a.expect_config:
            _, want, _ = random_model(a.expect_config, a.expect_type or 'f32', a.expect_embed_type)
            got = [(t['name'], tuple(t['shape']), t['type']) for t in tensors]
            exp = [(n, tuple(sh), ty) for n, sh, ty, _ in want]
            bad = [(g, e) for g, e in zip(got, exp) if g != e]
            if len(got) != len(exp) or bad:
                print('MISMATCH: %d tensors, expected %d; first differences %s' % (len(got), len(exp), bad[:3])); sys.exit(1)
            nb = sum(nbytes_of(sh, ty) for _, sh, ty in exp)
            if sum(t['nbytes'] for t in tensors) != nb: print('MISMATCH: bytes'); sys.exit(1)
            last = max(tensors, key=lambda t: t['offset'])
            want_size = data + (last['offset'] + last['nbytes'] + ALIGN - 1) // ALIGN * ALIGN
            if res['bytes'] != want_size: print('MISMATCH: file size %d, expected %d' % (res['bytes'], want_size)); sys.exit(1)
            if kv.get('general.file_type') != FILE_TYPE[a.expect_type or 'f32']: print('MISMATCH: file_type'); sys.exit(1)
            res['expected'] = 'ok: %d tensors, %d bytes of weights' % (len(exp), nb)
        if a.json: print(json.dumps(res)); return
        print('%s: GGUF v%d, %d tensors, %d kv, %d bytes' % (a.file, ver, len(tensors), len(kv), res['bytes']))
        for k, v in meta.items(): print('  %s = %s' % (k, v))
        for t in tensors: print('  %-28s %-5s %-16s @%d (%d bytes)' % (t['name'], t['type'], t['shape'], t['offset'], t['nbytes']))
        if a.expect_config: print(res['expected'])
        return
    if a.mode == 'quant-vectors':
        kv, T = quant_vectors(); info = {}
    else:
        kv, T, info = random_model(a.config, a.type, a.embed_type, a.seed, not a.no_rope_freqs)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    n = write_gguf(a.out, kv, T)
    params = sum(int(np.prod(s)) for _, s, _, _ in T)
    print(json.dumps(dict(out=a.out, bytes=n, params=params, tensors=len(T), seconds=round(time.time() - t0, 2), **info)))


if __name__ == '__main__':
    main()
