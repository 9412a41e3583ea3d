"""Independent numpy reference for the MDLM network's forward pass.

Written from /work/shared/mdlm-spec.md, sections 1-3. It is the ground truth
for the server's parity tests, so it computes in float64. The one exception is
the rotary cos/sin table: the original model builds it in float32, and that
rounding is part of what the real network computes, so it is reproduced here
(see rotary_tables) and only then promoted to float64.

`forward` returns raw logits, before the SUBS parameterization.
"""

import json
import math
import struct

import numpy as np

NAME_PREFIX = "backbone."
LN_EPS = 1e-5
ROTARY_BASE = 10000.0
TIME_MAX_PERIOD = 10000.0
TIME_FREQ_HALF = 128  # the sigma_map input is always 2 * 128 = 256 wide


# --------------------------------------------------------------------------
# safetensors reading
# --------------------------------------------------------------------------

def load_safetensors(path, prefix=NAME_PREFIX):
    """Read a .safetensors file into {name: ndarray}, dropping `prefix` (`backbone.`).

    Format: 8-byte little-endian header length, a JSON header mapping each name
    to {dtype, shape, data_offsets}, then the raw little-endian tensor bytes;
    offsets are relative to the first byte after the header.
    """
    with open(path, "rb") as f:
        raw = f.read()
    (header_len,) = struct.unpack_from("<Q", raw, 0)
    header = json.loads(raw[8:8 + header_len].decode("utf-8"))
    data = raw[8 + header_len:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":  # free-form string map, not a tensor
            continue
        begin, end = info["data_offsets"]
        array = _decode(info["dtype"], data[begin:end])
        tensors[name.removeprefix(prefix)] = array.reshape(info["shape"])
    return tensors


def _decode(dtype, buf):
    """Decode raw little-endian bytes of one tensor into a flat float32 array."""
    if dtype == "F32":
        return np.frombuffer(buf, dtype="<f4").astype(np.float32)
    if dtype == "F16":
        return np.frombuffer(buf, dtype="<f2").astype(np.float32)
    if dtype == "BF16":
        # bfloat16 is the upper 16 bits of a float32, so widening is a shift.
        bits = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
        return bits.view(np.float32)
    raise ValueError(f"unsupported safetensors dtype {dtype!r}")


# --------------------------------------------------------------------------
# building blocks (all float64)
# --------------------------------------------------------------------------

def linear(x, weight, bias=None):
    """PyTorch Linear: weight is [out, in], y = x @ weight.T + bias."""
    y = x @ weight.T
    return y if bias is None else y + bias


def silu(x):
    return x / (1.0 + np.exp(-x))


def gelu_tanh(x):
    inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)
    return 0.5 * x * (1.0 + np.tanh(inner))


def layer_norm(x, weight):
    """LayerNorm over the last axis, biased variance, eps 1e-5, no bias term."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + LN_EPS) * weight


def modulate(x, shift, scale):
    return x * (1.0 + scale) + shift


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def adaln_slices(weights, prefix, c, count):
    """Split adaLN_modulation(c) [B, count*D] into `count` slices of [B, 1, D]."""
    mod = linear(c, weights[prefix + "weight"], weights[prefix + "bias"])
    return [s[:, None, :] for s in np.split(mod, count, axis=-1)]


# --------------------------------------------------------------------------
# conditioning and rotary embedding
# --------------------------------------------------------------------------

def conditioning(weights, sigma):
    """c = SiLU(mlp.2(SiLU(mlp.0(t_freq)))), t_freq = [cos(sigma*f), sin(sigma*f)]."""
    j = np.arange(TIME_FREQ_HALF, dtype=np.float64)
    freqs = np.exp(-math.log(TIME_MAX_PERIOD) * j / TIME_FREQ_HALF)
    args = sigma[:, None] * freqs[None, :]
    t_freq = np.concatenate([np.cos(args), np.sin(args)], axis=-1)
    hidden = silu(linear(t_freq, weights["sigma_map.mlp.0.weight"],
                         weights["sigma_map.mlp.0.bias"]))
    # The outer SiLU belongs to the model, applied after sigma_map.
    return silu(linear(hidden, weights["sigma_map.mlp.2.weight"],
                       weights["sigma_map.mlp.2.bias"]))


def _f32_map(fn, values):
    """Apply a scalar transcendental to float32 values, giving float32 results.

    Each value is evaluated in float64 by libm and rounded once to float32:
    the correctly rounded result a good powf/cosf/sinf returns. Unlike numpy's
    float32 SIMD kernels this does not vary by CPU, so regenerated fixtures
    stay byte-identical.
    """
    results = [fn(v) for v in values.ravel().tolist()]
    return np.array(results, dtype=np.float64).astype(np.float32).reshape(values.shape)


def rotary_tables(seq_len, head_dim):
    """Rotary cos/sin tables [L, d/2] in float32, every step in float32.

    inv_freq = 1 / 10000**(arange(0, d, 2) / d); angle = float32(p) * inv_freq;
    cos and sin of those float32 angles, rounded to float32.
    """
    f32 = np.float32
    exponents = np.arange(0, head_dim, 2, dtype=f32) / f32(head_dim)
    inv_freq = f32(1.0) / _f32_map(lambda e: ROTARY_BASE ** e, exponents)
    positions = np.arange(seq_len, dtype=f32)
    angles = positions[:, None] * inv_freq[None, :]  # float32 product
    return _f32_map(math.cos, angles), _f32_map(math.sin, angles)


def apply_rotary(x, cos, sin):
    """Non-interleaved "rotate half" on x [..., L, d] with tables [L, d/2]."""
    cos = cos.astype(np.float64)
    sin = sin.astype(np.float64)
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


# --------------------------------------------------------------------------
# network
# --------------------------------------------------------------------------

def attention(qkv, cos, sin, n_heads):
    """Bidirectional multi-head attention on qkv [B, L, 3D] read as [B, L, 3, H, d]."""
    batch, seq_len, width = qkv.shape
    head_dim = width // (3 * n_heads)
    heads = qkv.reshape(batch, seq_len, 3, n_heads, head_dim).transpose(2, 0, 3, 1, 4)
    q, k, v = heads  # each [B, H, L, d]
    q = apply_rotary(q, cos, sin)
    k = apply_rotary(k, cos, sin)
    scores = q @ k.swapaxes(-1, -2) / math.sqrt(head_dim)  # no causal mask
    out = softmax(scores) @ v
    return out.transpose(0, 2, 1, 3).reshape(batch, seq_len, n_heads * head_dim)


def block(weights, prefix, h, c, cos, sin, n_heads):
    def w(name):
        return weights[prefix + name]

    shift1, scale1, gate1, shift2, scale2, gate2 = adaln_slices(
        weights, prefix + "adaLN_modulation.", c, 6)

    a = modulate(layer_norm(h, w("norm1.weight")), shift1, scale1)
    attn = attention(linear(a, w("attn_qkv.weight")), cos, sin, n_heads)
    h = h + gate1 * linear(attn, w("attn_out.weight"))

    m = modulate(layer_norm(h, w("norm2.weight")), shift2, scale2)
    hidden = gelu_tanh(linear(m, w("mlp.0.weight"), w("mlp.0.bias")))
    return h + gate2 * linear(hidden, w("mlp.2.weight"), w("mlp.2.bias"))


def output_layer(weights, h, c):
    shift, scale = adaln_slices(weights, "output_layer.adaLN_modulation.", c, 2)
    o = modulate(layer_norm(h, weights["output_layer.norm_final.weight"]), shift, scale)
    return linear(o, weights["output_layer.linear.weight"],
                  weights["output_layer.linear.bias"])


def forward(weights, config, input_ids, sigma):
    """Raw logits [B, L, V] (float64) for input_ids [B, L].

    weights: {name: ndarray} with names lacking the `backbone.` prefix, as
    load_safetensors returns them. config: the Hugging Face config dict.
    sigma: [B] or None; ignored (zeroed) unless config["time_conditioning"].
    """
    ids = np.asarray(input_ids, dtype=np.int64)
    if ids.min() < 0 or ids.max() >= config["vocab_size"]:
        raise ValueError("input id out of range")
    batch, seq_len = ids.shape
    w = {name: np.asarray(t, dtype=np.float64) for name, t in weights.items()}

    if sigma is None or not config["time_conditioning"]:
        sigma = np.zeros(batch)
    c = conditioning(w, np.asarray(sigma, dtype=np.float64))

    n_heads = config["n_heads"]
    cos, sin = rotary_tables(seq_len, config["hidden_dim"] // n_heads)
    h = w["vocab_embed.embedding"][ids]
    for i in range(config["n_blocks"]):
        h = block(w, f"blocks.{i}.", h, c, cos, sin, n_heads)
    return output_layer(w, h, c)
