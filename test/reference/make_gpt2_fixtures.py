"""Generate the GPT-2 golden fixtures in test/fixtures/gpt2-parity/.

For every configuration in FIXTURES this writes test/fixtures/gpt2-parity/<name>/:
  config.json        a Hugging Face GPT-2 config (model_type gpt2)
  model.safetensors  random float32 weights in the exact Hugging Face layout:
                     `gpt2-bare` as the hub's gpt2 upload (no prefix, with the
                     h.{i}.attn.bias / attn.masked_bias buffers), `gpt2-prefixed`
                     as GPT2LMHeadModel saves it (`transformer.` prefix, the
                     attn.bias buffers and an explicit lm_head.weight equal to wte)
  cases.json         {"description": str,
                      "cases": [{"input_ids": [[int]*L]*B, "logits": [[[float]*V]*L]*B}]}
and, for `gpt2-bare`, gen_ppl.json: token rows and the seed's generative
perplexity of them under the fixture (gpt2_reference.generative_perplexity),
with the context set to n_positions so that rows span several chunks:
  {"eos": int, "context": int, "batch_size": int, "rows": [[int]],
   "nll": [float], "counted": [int], "gen_ppl": float}

Logits come from gpt2_reference.forward run on the weights read back from the
written model.safetensors, so the file format is checked too.

Rerun from the repository root (needs only python3 and numpy):
    python3 test/reference/make_gpt2_fixtures.py
Seeds are fixed, so a rerun on the same machine rewrites byte-identical files.
"""

import json
import math
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # keep test/reference free of __pycache__

import numpy as np  # noqa: E402

from gpt2_reference import PREFIX, forward, generative_perplexity, load_gpt2  # noqa: E402
from make_fixtures import write_json, write_safetensors  # noqa: E402

OUT_ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "gpt2-parity"


def hf_config(vocab_size, n_positions, n_embd, n_layer, n_head, n_inner=None):
    """The fields of the hub's gpt2 config.json; the last id is <|endoftext|>."""
    return {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": vocab_size - 1,
        "embd_pdrop": 0.1,
        "eos_token_id": vocab_size - 1,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_ctx": n_positions,
        "n_embd": n_embd,
        "n_head": n_head,
        "n_inner": n_inner,
        "n_layer": n_layer,
        "n_positions": n_positions,
        "resid_pdrop": 0.1,
        "vocab_size": vocab_size,
    }


FIXTURES = [
    {"name": "gpt2-bare", "seed": 20240610, "prefixed": False, "config": hf_config(61, 12, 24, 2, 3)},
    # Head width 5 and an MLP width that is not 4·n_embd.
    {"name": "gpt2-prefixed", "seed": 20240611, "prefixed": True, "config": hf_config(50, 9, 20, 3, 4, n_inner=48)},
]


def make_weights(rng, config):
    """Random float32 weights {canonical name: array}; Conv1D weights [in, out]."""
    V, P, D, layers = config["vocab_size"], config["n_positions"], config["n_embd"], config["n_layer"]
    inner = config["n_inner"] or 4 * D

    def normal(shape, std):
        return rng.normal(0.0, std, size=shape)

    def conv1d(in_features, out_features):
        return normal((in_features, out_features), math.sqrt(1.0 / in_features)), normal(out_features, 0.05)

    w = {
        "wte.weight": normal((V, D), 3.0 / math.sqrt(D)),  # tied output layer: logits of a few units
        "wpe.weight": normal((P, D), 1.0 / math.sqrt(D)),
    }
    for i in range(layers):
        p = f"h.{i}."
        for norm in ("ln_1", "ln_2"):
            w[p + norm + ".weight"] = 1.0 + normal(D, 0.1)
            w[p + norm + ".bias"] = normal(D, 0.1)
        w[p + "attn.c_attn.weight"], w[p + "attn.c_attn.bias"] = conv1d(D, 3 * D)
        w[p + "attn.c_proj.weight"], w[p + "attn.c_proj.bias"] = conv1d(D, D)
        w[p + "mlp.c_fc.weight"], w[p + "mlp.c_fc.bias"] = conv1d(D, inner)
        w[p + "mlp.c_proj.weight"], w[p + "mlp.c_proj.bias"] = conv1d(inner, D)
    w["ln_f.weight"] = 1.0 + normal(D, 0.1)
    w["ln_f.bias"] = normal(D, 0.1)
    return {name: array.astype(np.float32) for name, array in w.items()}


def stored_tensors(weights, config, prefixed):
    """The names and buffers as the file stores them."""
    prefix = PREFIX if prefixed else ""
    P = config["n_positions"]
    stored = {prefix + name: array for name, array in weights.items()}
    for i in range(config["n_layer"]):
        stored[f"{prefix}h.{i}.attn.bias"] = np.tril(np.ones((P, P), dtype=np.float32)).reshape(1, 1, P, P)
        if not prefixed:
            stored[f"h.{i}.attn.masked_bias"] = np.array(-1e4, dtype=np.float32)
    if prefixed:
        stored["lm_head.weight"] = weights["wte.weight"]
    return stored


def make_inputs(rng, config):
    """Id batches [B, L]: uniform at full length, then shorter rows holding <|endoftext|>."""
    V, P = config["vocab_size"], config["n_positions"]
    eos = V - 1
    full = rng.integers(0, V, size=(2, P))
    short = rng.integers(0, V, size=(3, 5))
    short[:, [0, 3]] = eos
    return [full, short]


def describe(fixture):
    c = fixture["config"]
    layout = ("`transformer.` prefix, attn.bias buffers and an explicit lm_head.weight equal to wte"
              if fixture["prefixed"] else "bare names with attn.bias and attn.masked_bias buffers")
    return (f"GPT-2 parity fixture '{fixture['name']}': V={c['vocab_size']}, n_positions={c['n_positions']}, "
            f"n_embd={c['n_embd']}, n_head={c['n_head']}, n_layer={c['n_layer']}, n_inner={c['n_inner']}; "
            f"{layout}; random weights (seed {fixture['seed']}). Cases: B=2 at full length, B=3 of length 5 "
            "with <|endoftext|> (the last id) at positions 0 and 3. logits: float64 reference logits "
            "[B][L][V]. Generated by test/reference/make_gpt2_fixtures.py.")


# Rows for the generative-perplexity fixture (context 12, eos 60), each a corner of the rule:
# lengths and <|endoftext|> positions. The longest row (27) sets the padding of every other.
GEN_PPL_ROWS = [
    {"length": 12, "eos": []},              # no EOS, exactly one context: its first pad EOS (position 12) starts a chunk, never a target
    {"length": 27, "eos": [0, 5, 13, 26]},  # chunk 0's first EOS is at 0 (never a target), so 5 does not count; 13 and 26 are the first of chunks 1 and 2
    {"length": 7, "eos": []},               # no EOS: the first pad EOS (position 7) counts, later pads do not
    {"length": 20, "eos": [3, 15]},         # one EOS in each of two chunks: each is its chunk's first
    {"length": 1, "eos": []},               # a single token: only the first pad EOS is scored
    {"length": 13, "eos": [12]},            # EOS at a chunk's first position (never a target), then padding
    {"length": 9, "eos": [2, 4, 6]},        # several EOS in one chunk: only the first counts
]


def gen_ppl_fixture(rng, weights, config):
    eos = config["vocab_size"] - 1
    rows = []
    for spec in GEN_PPL_ROWS:
        row = rng.integers(0, eos, size=spec["length"])
        row[spec["eos"]] = eos
        rows.append(row.tolist())
    context, batch_size = config["n_positions"], 3
    nll, counted, ppl = generative_perplexity(weights, config, rows, eos, context, batch_size)
    return {"eos": eos, "context": context, "batch_size": batch_size, "rows": rows,
            "nll": nll.tolist(), "counted": counted.tolist(), "gen_ppl": ppl}


def check_causal(weights, config):
    """Changing token p changes the logits at p and after, and none before."""
    ids = np.arange(config["n_positions"])[None, :] % config["vocab_size"]
    p = config["n_positions"] // 2
    changed = ids.copy()
    changed[0, p] = (changed[0, p] + 1) % config["vocab_size"]
    delta = np.abs(forward(weights, config, changed) - forward(weights, config, ids))[0].max(axis=-1)
    print(f"  causal: token {p} changed; max|dlogit| before {delta[:p].max():.1e}, "
          f"min after {delta[p:].min():.2e}")
    assert delta[:p].max() == 0.0 and (delta[p:] > 1e-6).all()


def generate(fixture):
    config = fixture["config"]
    rng = np.random.default_rng(fixture["seed"])
    out_dir = OUT_ROOT / fixture["name"]
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = make_weights(rng, config)
    write_json(out_dir / "config.json", config)
    write_safetensors(out_dir / "model.safetensors", stored_tensors(weights, config, fixture["prefixed"]))
    loaded = load_gpt2(out_dir / "model.safetensors")
    assert loaded.keys() == weights.keys()
    cases = []
    for ids in make_inputs(rng, config):
        logits = forward(loaded, config, ids)
        assert np.isfinite(logits).all()
        cases.append({"input_ids": ids.tolist(), "logits": logits.tolist()})
    write_json(out_dir / "cases.json", {"description": describe(fixture), "cases": cases})
    std = np.concatenate([np.ravel(c["logits"]) for c in cases]).std()
    size = (out_dir / "model.safetensors").stat().st_size
    print(f"{fixture['name']:14s} logits std {std:.3f}  model.safetensors {size} bytes")
    assert 1.0 < std < 10.0 and size < 300_000
    check_causal(loaded, config)
    if not fixture["prefixed"]:
        result = gen_ppl_fixture(rng, loaded, config)
        write_json(out_dir / "gen_ppl.json", result)
        print(f"  gen_ppl.json: {len(result['rows'])} rows, counted {result['counted']}, "
              f"gen PPL {result['gen_ppl']:.4f}")


def main():
    for fixture in FIXTURES:
        generate(fixture)


if __name__ == "__main__":
    main()
