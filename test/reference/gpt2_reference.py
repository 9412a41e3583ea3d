"""Independent numpy reference for GPT-2's forward pass and the seed's generative perplexity.

Written from /work/shared/mdlm-spec.md section 10 (GPT-2 architecture: learned
positions, pre-LN with bias, eps from layer_norm_epsilon, gelu_new, causal
attention, Conv1D weights stored [in, out], lm_head tied to wte) and from the
seed's `compute_generative_perplexity` (pad with EOS to the longest row, split
into context-sized chunks, cross-entropy of logits[:, :-1] against tokens[:, 1:],
a target counted when it is not EOS or is the chunk's first EOS). Everything is
float64: it is the ground truth for the server's tests.
"""

import math

import numpy as np

from mdlm_reference import load_safetensors

PREFIX = "transformer."
LM_HEAD = "lm_head.weight"


def load_gpt2(path):
    """{canonical name: float64 array} from a Hugging Face GPT-2 model.safetensors.

    Accepts names with or without `transformer.`, drops the causal-mask buffers
    h.{i}.attn.bias / h.{i}.attn.masked_bias, and checks that an explicit
    lm_head.weight is wte itself (GPT-2 ties them).
    """
    raw = load_safetensors(path, prefix=PREFIX)
    weights = {}
    for name, array in raw.items():
        parts = name.split(".")
        if len(parts) == 4 and parts[0] == "h" and parts[2] == "attn" and parts[3] in ("bias", "masked_bias"):
            continue
        weights[name] = np.asarray(array, dtype=np.float64)
    if LM_HEAD in weights:
        assert np.array_equal(weights.pop(LM_HEAD), weights["wte.weight"]), "lm_head.weight is not tied to wte"
    return weights


def layer_norm(x, weight, bias, eps):
    """LayerNorm over the last axis: biased variance, learned weight and bias."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def gelu_new(x):
    """GPT-2's GELU: the tanh approximation."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def conv1d(x, weight, bias):
    """Hugging Face Conv1D: weight stored [in, out], y = x @ weight + bias."""
    return x @ weight + bias


def causal_attention(qkv, n_head):
    """qkv [B, L, 3D] split as q | k | v, each [B, L, H, d]; position p sees keys <= p."""
    batch, length, width = qkv.shape
    d_model = width // 3
    head = d_model // n_head
    q, k, v = (qkv[..., i * d_model:(i + 1) * d_model].reshape(batch, length, n_head, head).transpose(0, 2, 1, 3)
               for i in range(3))
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head)
    future = np.triu(np.ones((length, length), dtype=bool), k=1)
    scores = np.where(future, -np.inf, scores)
    scores -= scores.max(axis=-1, keepdims=True)
    probabilities = np.exp(scores)
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    return (probabilities @ v).transpose(0, 2, 1, 3).reshape(batch, length, d_model)


def forward(weights, config, input_ids):
    """Logits [B, L, V] (float64) for input_ids [B, L], L <= n_positions."""
    ids = np.asarray(input_ids, dtype=np.int64)
    length = ids.shape[1]
    assert length <= config["n_positions"], "longer than the context"
    eps = config.get("layer_norm_epsilon", 1e-5)
    h = weights["wte.weight"][ids] + weights["wpe.weight"][:length]
    for i in range(config["n_layer"]):
        w = {name[len(f"h.{i}."):]: value for name, value in weights.items() if name.startswith(f"h.{i}.")}
        a = layer_norm(h, w["ln_1.weight"], w["ln_1.bias"], eps)
        attn = causal_attention(conv1d(a, w["attn.c_attn.weight"], w["attn.c_attn.bias"]), config["n_head"])
        h = h + conv1d(attn, w["attn.c_proj.weight"], w["attn.c_proj.bias"])
        m = layer_norm(h, w["ln_2.weight"], w["ln_2.bias"], eps)
        hidden = gelu_new(conv1d(m, w["mlp.c_fc.weight"], w["mlp.c_fc.bias"]))
        h = h + conv1d(hidden, w["mlp.c_proj.weight"], w["mlp.c_proj.bias"])
    h = layer_norm(h, weights["ln_f.weight"], weights["ln_f.bias"], eps)
    return h @ weights["wte.weight"].T


def log_softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def generative_perplexity(weights, config, rows, eos, context, batch_size):
    """The seed's compute_generative_perplexity on already-tokenized rows.

    rows: lists of token ids (already truncated). They are right-padded with
    `eos` to the longest row; each batch is split into `context`-sized chunks;
    per chunk, nll of tokens[:, 1:] under logits[:, :-1]; a target counts when
    it is not eos or when it is the chunk's first eos (cumsum of eos == 1).
    Returns (per-row nll sums, per-row counted targets, gen PPL).
    """
    longest = max(len(row) for row in rows)
    padded = np.full((len(rows), longest), eos, dtype=np.int64)
    for r, row in enumerate(rows):
        padded[r, :len(row)] = row
    nll = np.zeros(len(rows))
    counted = np.zeros(len(rows), dtype=np.int64)
    for start in range(0, len(rows), batch_size):
        batch = padded[start:start + batch_size]
        for begin in range(0, longest, context):
            chunk = batch[:, begin:begin + context]
            logp = log_softmax(forward(weights, config, chunk))
            targets = chunk[:, 1:]
            token_nll = -np.take_along_axis(logp[:, :-1], targets[..., None], axis=-1)[..., 0]
            first_eos = np.cumsum(chunk == eos, axis=-1) == 1
            mask = first_eos[:, 1:] | (targets != eos)
            nll[start:start + len(batch)] += (token_nll * mask).sum(axis=-1)
            counted[start:start + len(batch)] += mask.sum(axis=-1)
    return nll, counted, math.exp(nll.sum() / counted.sum())
