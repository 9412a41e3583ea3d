"""Golden outputs of the seed's baselines from the committed .ckpt fixtures.

Rerun from the repository root with Debian's python3 (torch 1.13, omegaconf 2.2;
CI has no torch: the tests only read the committed golden file):
    /usr/bin/python3 test/reference/baselines_reference.py

Independent of the server: torch.load reads the archives (the fixtures are ours,
so unpickling them is safe), the EMA or raw weights are named by the parameter
order torch recorded in expected.json, and the networks are computed in float64
numpy, written from the seed's models/autoregressive.py and diffusion.py:

  ar     the AR baseline: DIT blocks without adaLN, causal attention, the mask
         logit set to -1000; its log-likelihood as the seed's AR _loss scores a
         row (input x[:-1], targets x[1:]).
  sedd   the time-conditioned DIT (mdlm_reference.forward), read as SEDD log
         scores (_sedd_parameterization), its score-entropy loss weighted by
         dsigma (_score_entropy, _forward_pass_diffusion) and the law of its
         analytic step (get_score, _staggered_score, _transp_transition,
         _analytic_update) and of its denoiser step (_denoiser_update), with the
         seed's Gumbel-argmax read as: a negative weight never wins, the others
         are drawn in proportion.
  mdlm   the MDLM fixture's raw logits, to check that a .ckpt exports as its
         directory twin does.

Writes test/fixtures/baselines/golden.json, and three small .ckpt files the
server must refuse to serve (same stand-ins as make_ckpt_fixtures.py):
  d3pm.ckpt          parameterization d3pm (the seed's discrete-time variant);
  sedd-untimed.ckpt  sedd without time_conditioning (its score would divide by 0);
  ar-subs.ckpt       backbone ar with parameterization subs (not a model the seed trains).
"""

import json
import math
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # keep test/reference free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import make_ckpt_fixtures  # noqa: E402  (registers the fixture's stand-in classes for torch.load)
import mdlm_reference as ref  # noqa: E402

# The stand-in of tokenizers.Tokenizer is pickled with constructor arguments it need not take back.
make_ckpt_fixtures.TokenizersTokenizer.__new__ = lambda cls, *args: object.__new__(cls)

ROOT = Path(__file__).resolve().parents[2]
CKPT = ROOT / "test" / "fixtures" / "ckpt"
OUT = ROOT / "test" / "fixtures" / "baselines" / "golden.json"
SCHEDULE_EPS = 1e-3
AR_MASK_LOGIT = -1000.0


def load(name, weights):
    expected = json.loads((CKPT / "expected.json").read_text())[name]
    ckpt = torch.load(CKPT / name, map_location="cpu")
    if weights == "ema":
        tensors = dict(zip(expected["parameter_order"], ckpt["ema"]["shadow_params"]))
    else:
        prefix = "backbone."
        tensors = {k[len(prefix):]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
    arrays = {k: v.detach().float().numpy().astype(np.float64) for k, v in tensors.items()}
    return arrays, expected["config"]


# --------------------------------------------------------------------------
# The AR baseline (models/autoregressive.py).

def causal_attention(qkv, cos, sin, n_heads):
    batch, length, width = qkv.shape
    head_dim = width // (3 * n_heads)
    q, k, v = qkv.reshape(batch, length, 3, n_heads, head_dim).transpose(2, 0, 3, 1, 4)
    q, k = ref.apply_rotary(q, cos, sin), ref.apply_rotary(k, cos, sin)
    scores = q @ k.swapaxes(-1, -2) / math.sqrt(head_dim)
    future = np.triu(np.ones((length, length), dtype=bool), 1)
    scores = np.where(future, -np.inf, scores)
    out = ref.softmax(scores) @ v
    return out.transpose(0, 2, 1, 3).reshape(batch, length, n_heads * head_dim)


def ar_forward(w, config, ids, mask_index):
    """The AR's output before its log_softmax: logits [B, L, V] with the mask's set to -1000."""
    ids = np.asarray(ids, dtype=np.int64)
    n_heads = config["n_heads"]
    cos, sin = ref.rotary_tables(ids.shape[1], config["hidden_dim"] // n_heads)
    h = w["vocab_embed.embedding"][ids]
    for i in range(config["n_blocks"]):
        p = f"blocks.{i}."
        a = ref.layer_norm(h, w[p + "norm1.weight"])
        h = h + ref.linear(causal_attention(ref.linear(a, w[p + "attn_qkv.weight"]), cos, sin, n_heads), w[p + "attn_out.weight"])
        m = ref.layer_norm(h, w[p + "norm2.weight"])
        h = h + ref.linear(ref.gelu_tanh(ref.linear(m, w[p + "mlp.0.weight"], w[p + "mlp.0.bias"])), w[p + "mlp.2.weight"], w[p + "mlp.2.bias"])
    logits = ref.linear(ref.layer_norm(h, w["output_layer.norm_final.weight"]), w["output_layer.linear.weight"], w["output_layer.linear.bias"])
    logits[:, :, mask_index] = AR_MASK_LOGIT
    return logits


def log_softmax(x):
    peak = x.max(axis=-1, keepdims=True)
    return x - peak - np.log(np.exp(x - peak).sum(axis=-1, keepdims=True))


def ar_case(weights, rows, mask_index):
    w, config = load("ar.ckpt", weights)
    logits = ar_forward(w, config, rows, mask_index)
    # The seed's AR _loss: the network sees x[:-1] and is scored on x[1:], every target of the row.
    inputs = [row[:-1] for row in rows]
    logprobs = log_softmax(ar_forward(w, config, inputs, mask_index))
    token_nll = [[-float(logprobs[r, p, row[p + 1]]) for p in range(len(row) - 1)] for r, row in enumerate(rows)]
    return {"weights": weights, "mask_index": mask_index, "input_ids": rows, "logits": logits.tolist(), "token_nll": token_nll}


# --------------------------------------------------------------------------
# SEDD (diffusion.py), on the time-conditioned DIT.

def total_noise(t):
    return -math.log1p(-(1 - SCHEDULE_EPS) * t)


def rate_noise(t):
    return (1 - SCHEDULE_EPS) / (1 - (1 - SCHEDULE_EPS) * t)


def sedd_log_score(logits, xt, sigma):
    """_sedd_parameterization for one row: logits - log(e^sigma - 1) - log(V - 1), 0 at the input token."""
    vocab = logits.shape[-1]
    log_score = logits - math.log(math.expm1(sigma)) - math.log(vocab - 1)
    log_score[np.arange(len(xt)), xt] = 0.0
    return log_score


def score_entropy(log_score, sigma, x0, mask_index):
    """_score_entropy at one masked position: pos_term - neg_term + const."""
    q_ratio = 1.0 / math.expm1(sigma)
    score = np.exp(log_score)
    pos_term = score.sum() - score[mask_index]
    neg_term = q_ratio * log_score[x0]
    const = q_ratio * (math.log(q_ratio) - 1)
    return pos_term - neg_term + const


def step_law(log_score_row, x, dsigma, mask_index, denoiser):
    """The categorical the seed samples at one position: stag_score * transp_transition, read as a law."""
    score = np.exp(log_score_row)
    stag = score * math.exp(dsigma)
    stag[mask_index] += (1 - math.exp(dsigma)) * score.sum()
    edge = math.exp(-dsigma) * np.eye(len(score))[x]
    if x == mask_index:
        edge = edge + (1 - math.exp(-dsigma))
    probs = stag * edge
    if denoiser:
        probs[mask_index] = 0
    weights = np.maximum(probs, 0)  # Gumbel argmax: a negative weight never wins
    return weights / weights.sum()


def sedd_case():
    w, config = load("sedd.ckpt", "ema")
    mask_index = config["vocab_size"] - 1
    rng = np.random.default_rng(20240611)
    length, vocab = 12, config["vocab_size"]
    entries = []
    rows, sigmas = [], []
    # (t, s): steps of the analytic sampler, and its denoiser step at t = 1e-5 (s = None).
    for t, s in [(0.9, 0.6), (0.5, 0.45), (0.2, 0.1), (0.05, 0.01), (1e-5, None)]:
        x0 = rng.integers(0, vocab - 1, size=length)
        masked = rng.random(length) < 0.6
        masked[0] = True
        xt = np.where(masked, mask_index, x0)
        sigma = total_noise(t)
        rows.append(xt.tolist())
        sigmas.append(sigma)
        logits = ref.forward(w, config, xt[None, :], np.array([sigma]))[0]
        log_score = sedd_log_score(logits, xt, sigma)
        for p in np.flatnonzero(masked):
            entry = {"row": len(rows) - 1, "position": int(p), "target": int(x0[p]), "t": t,
                     "loss": rate_noise(t) * score_entropy(log_score[p], sigma, int(x0[p]), mask_index)}
            dsigma = sigma if s is None else sigma - total_noise(s)
            law = step_law(log_score[p], mask_index, dsigma, mask_index, s is None)
            entry.update({"s": s, "unmask": 1 - float(law[mask_index]), "token_law": (law / law[:mask_index].sum())[:mask_index].tolist()})
            entries.append(entry)
        # An unmasked position never changes.
        kept = int(np.flatnonzero(~masked)[0]) if (~masked).any() else None
        if kept is not None and s is not None:
            law = step_law(log_score[kept], int(xt[kept]), sigma - total_noise(s), mask_index, False)
            assert law[xt[kept]] == 1.0
    logits = ref.forward(w, config, np.array(rows), np.array(sigmas))
    return {"mask_index": mask_index, "input_ids": rows, "sigma": sigmas, "logits": logits.tolist(), "entries": entries}


def mdlm_case(rows):
    w, config = load("mdlm.ckpt", "ema")
    return {"input_ids": rows, "logits": ref.forward(w, config, np.array(rows), None).tolist()}


def unservable():
    small = make_ckpt_fixtures.SMALL
    specs = {
        "d3pm.ckpt": ("dit", "d3pm", False),
        "sedd-untimed.ckpt": ("dit", "sedd", False),
        "ar-subs.ckpt": ("ar", "subs", False),
    }
    for seed, (name, (kind, parameterization, timed)) in enumerate(specs.items(), 1301):
        spec = dict(seed=seed, kind=kind, parameterization=parameterization, time_conditioning=timed,
                    dtype=torch.float32, flat_ema=False, tokenizer="gpt2")
        _, ckpt = make_ckpt_fixtures.build(spec, small)
        torch.save(ckpt, OUT.parent / name)


def main():
    rng = np.random.default_rng(7)
    vocab, length = 20, 16
    rows = [rng.integers(0, vocab - 1, size=length).tolist() for _ in range(3)]
    golden = {
        # The mask of a GPT-2-style vocabulary (the last id), and an inner one.
        "ar": [ar_case("ema", rows, vocab - 1), ar_case("raw", [[8 if token == 7 else token for token in rows[0]]], 7)],
        "sedd": sedd_case(),
        "mdlm": mdlm_case(rows[:2]),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(golden) + "\n")
    unservable()
    print(f"wrote {OUT.relative_to(ROOT)}: {len(golden['sedd']['entries'])} SEDD entries")


if __name__ == "__main__":
    main()
