"""Generate the MDLM golden parity fixtures in test/fixtures/parity/.

For every configuration in FIXTURES this writes test/fixtures/parity/<name>/:
  config.json        the Hugging Face config fields of spec section 1
  model.safetensors  random float32 weights, every name prefixed `backbone.`
  cases.json         inputs and the reference logits (float64, before SUBS):
                     {"description": str,
                      "cases": [{"input_ids": [[int]*L]*B,
                                 "sigma": [float]*B or null,
                                 "logits": [[[float]*V]*L]*B}]}

The weights are random but scaled so that every part of the network matters:
unlike the real initialisation, the adaLN modulation and the output layer are
non-zero. Logits come from mdlm_reference.forward run on the weights read back
from the written model.safetensors, so the file format is checked too.

Rerun from the repository root (needs only python3 and numpy):
    python3 test/reference/make_fixtures.py
Seeds are fixed, so a rerun on the same machine rewrites byte-identical files.
It prints per-fixture logit statistics and runs self-checks of the reference.
"""

import json
import math
import struct
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # keep test/reference free of __pycache__

import numpy as np  # noqa: E402

from mdlm_reference import apply_rotary, forward, load_safetensors  # noqa: E402

OUT_ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "parity"
BATCH = 2


def hf_config(vocab_size, model_length, hidden_dim, cond_dim, n_blocks, n_heads,
              time_conditioning):
    """The config.json fields, in the order of spec section 1."""
    return {
        "model_type": "mdlm",
        "vocab_size": vocab_size,
        "model_length": model_length,
        "hidden_dim": hidden_dim,
        "cond_dim": cond_dim,
        "n_blocks": n_blocks,
        "n_heads": n_heads,
        "dropout": 0.1,
        "time_conditioning": time_conditioning,
    }


# Each fixture: a seed, a config, and one sigma entry per case. The cases are,
# in order: uniform ids, uniform ids, about half masked, every token masked.
FIXTURES = [
    {
        "name": "tiny-uncond",
        "seed": 20240601,
        "config": hf_config(29, 8, 32, 16, 2, 4, False),
        # Sigma is given in some cases only to check that it is ignored.
        "sigmas": [None, [0.5, 3.0], [0.0, 6.9], None],
    },
    {
        "name": "awkward-cond",
        "seed": 20240602,
        "config": hf_config(53, 11, 36, 20, 2, 3, True),
        "sigmas": [[0.0, 6.9], [0.25, 1.5], [1e-3, 3.7], [0.0, 6.9]],
    },
    {
        # Head width 4 (not 8) keeps three blocks under 200 KB of float32.
        "name": "gpt2-mask-row",
        "seed": 20240603,
        "config": hf_config(97, 16, 24, 24, 3, 6, False),
        "sigmas": [None, [1.0, 2.0], None, None],
    },
]


# --------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------

def make_weights(rng, config):
    """Random float32 weights {name without prefix: array} with spec shapes."""
    V, D, C = config["vocab_size"], config["hidden_dim"], config["cond_dim"]
    bias_std = 0.05

    def normal(shape, std):
        return rng.normal(0.0, std, size=shape)

    def fan_in(out_features, in_features):
        return normal((out_features, in_features), math.sqrt(1.0 / in_features))

    def norm_weight():
        return 1.0 + normal(D, 0.1)

    def adaln(count):
        weight = normal((count * D, C), math.sqrt(0.25 / C))
        bias = normal((count, D), 0.1)
        if count == 6:
            bias[[2, 5]] += 0.5  # the two gates sit around 0.5
        return weight, bias.reshape(-1)

    w = {
        "vocab_embed.embedding": normal((V, D), 1.0),
        "sigma_map.mlp.0.weight": fan_in(C, 256),
        "sigma_map.mlp.0.bias": normal(C, bias_std),
        "sigma_map.mlp.2.weight": fan_in(C, C),
        "sigma_map.mlp.2.bias": normal(C, bias_std),
    }
    for i in range(config["n_blocks"]):
        p = f"blocks.{i}."
        w[p + "norm1.weight"] = norm_weight()
        w[p + "attn_qkv.weight"] = fan_in(3 * D, D)
        w[p + "attn_out.weight"] = fan_in(D, D)
        w[p + "norm2.weight"] = norm_weight()
        w[p + "mlp.0.weight"] = fan_in(4 * D, D)
        w[p + "mlp.0.bias"] = normal(4 * D, bias_std)
        w[p + "mlp.2.weight"] = fan_in(D, 4 * D)
        w[p + "mlp.2.bias"] = normal(D, bias_std)
        w[p + "adaLN_modulation.weight"], w[p + "adaLN_modulation.bias"] = adaln(6)
    w["output_layer.norm_final.weight"] = norm_weight()
    # std 3/sqrt(D): logits with a standard deviation of a few units.
    w["output_layer.linear.weight"] = normal((V, D), math.sqrt(9.0 / D))
    w["output_layer.linear.bias"] = normal(V, bias_std)
    (w["output_layer.adaLN_modulation.weight"],
     w["output_layer.adaLN_modulation.bias"]) = adaln(2)
    return {name: array.astype(np.float32) for name, array in w.items()}


def write_safetensors(path, tensors):
    """Write F32 tensors as safetensors, data contiguous in sorted name order.

    The JSON header is padded with spaces to a multiple of 8 bytes, as the
    reference implementation does, so the data starts 8-byte aligned.
    """
    header = {"__metadata__": {"format": "pt"}}
    blobs, offset = [], 0
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        f.writelines(blobs)


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------

def make_inputs(rng, config):
    """The four id batches [B, L]; the mask id is V - 1 in every fixture."""
    V, L = config["vocab_size"], config["model_length"]
    mask = V - 1
    shape = (BATCH, L)

    def uniform():
        # Uniform over the whole vocabulary, mask id included; one forced mask
        # per row makes sure the mask row of the embedding is always exercised.
        ids = rng.integers(0, V, size=shape)
        ids[np.arange(BATCH), rng.integers(0, L, size=BATCH)] = mask
        return ids

    half_masked = rng.integers(0, V, size=shape)
    half_masked[rng.random(shape) < 0.5] = mask
    return [uniform(), uniform(), half_masked, np.full(shape, mask)]


def describe(fixture):
    c = fixture["config"]
    head_dim = c["hidden_dim"] // c["n_heads"]
    sigma_note = ("sigma is fed to the network" if c["time_conditioning"] else
                  "time_conditioning is false, so sigma (null or not) is ignored: "
                  "the network runs with sigma = 0")
    return (f"MDLM parity fixture '{fixture['name']}': V={c['vocab_size']}, "
            f"L={c['model_length']}, D={c['hidden_dim']}, H={c['n_heads']} "
            f"(d={head_dim}), C={c['cond_dim']}, {c['n_blocks']} blocks, random "
            f"non-zero weights (seed {fixture['seed']}). Mask id = V-1 = "
            f"{c['vocab_size'] - 1}. Cases: uniform ids (one mask forced per row), "
            "uniform ids, ~half masked, all masked; B=2 each. logits: raw float64 "
            "reference logits [B][L][V] before SUBS; rotary cos/sin tables built "
            f"in float32 as the original does. {sigma_note}. Generated by "
            "test/reference/make_fixtures.py.")


def format_json(value, indent=0):
    """JSON with each innermost list on one line; floats keep full precision (repr)."""
    pad = "  " * (indent + 1)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k)}: {format_json(v, indent + 1)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(value, list) and value and isinstance(value[0], (list, dict)):
        items = [pad + format_json(v, indent + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * indent + "]"
    return json.dumps(value, allow_nan=False)


def write_json(path, value):
    path.write_text(format_json(value) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------
# generation
# --------------------------------------------------------------------------

def generate(fixture):
    """Write one fixture directory; return (weights read back, all logits)."""
    config = fixture["config"]
    rng = np.random.default_rng(fixture["seed"])
    out_dir = OUT_ROOT / fixture["name"]
    out_dir.mkdir(parents=True, exist_ok=True)

    weights = make_weights(rng, config)
    write_json(out_dir / "config.json", config)
    write_safetensors(out_dir / "model.safetensors", {"backbone." + k: v
                                                      for k, v in weights.items()})
    loaded = load_safetensors(out_dir / "model.safetensors")
    assert loaded.keys() == weights.keys()
    assert all(np.array_equal(loaded[k], weights[k]) for k in weights)

    cases, all_logits = [], []
    for ids, sigma in zip(make_inputs(rng, config), fixture["sigmas"]):
        logits = forward(loaded, config, ids, None if sigma is None else np.array(sigma))
        assert np.isfinite(logits).all(), "non-finite logit"
        cases.append({"input_ids": ids.tolist(), "sigma": sigma,
                      "logits": logits.tolist()})
        all_logits.append(logits)
    write_json(out_dir / "cases.json",
               {"description": describe(fixture), "cases": cases})
    return loaded, np.stack(all_logits)


def report(fixture, logits):
    std, peak = logits.std(), np.abs(logits).max()
    size = (OUT_ROOT / fixture["name"] / "model.safetensors").stat().st_size
    print(f"{fixture['name']:14s} logits std {std:.4f}  max|logit| {peak:.4f}  "
          f"model.safetensors {size} bytes")
    assert 1.0 < std < 10.0, "logit scale outside the intended range"
    assert size < 300_000, "model too large for a fixture"


# --------------------------------------------------------------------------
# self-checks of the reference (not part of the fixtures)
# --------------------------------------------------------------------------

def check_bidirectional(fixture, weights):
    """Changing one token must change the logits at every position of its row."""
    config = fixture["config"]
    ids = make_inputs(np.random.default_rng(0), config)[0]
    changed = ids.copy()
    pos = config["model_length"] // 2
    changed[0, pos] = (changed[0, pos] + 1) % config["vocab_size"]
    delta = np.abs(forward(weights, config, changed, None)
                   - forward(weights, config, ids, None))
    per_position = delta[0].max(axis=-1)
    print(f"  (a) {fixture['name']}: token {pos} changed; min over positions of "
          f"max|dlogit| = {per_position.min():.3e}; other row max|dlogit| = "
          f"{delta[1].max():.1e}")
    assert (per_position > 1e-6).all() and delta[1].max() < 1e-12


def check_sigma(fixture, weights):
    """sigma matters iff time_conditioning is true."""
    config = fixture["config"]
    ids = make_inputs(np.random.default_rng(0), config)[0]
    base = forward(weights, config, ids, np.zeros(BATCH))
    moved = forward(weights, config, ids, np.array([1.0, 6.9]))
    delta = np.abs(moved - base).max()
    print(f"  (b) {fixture['name']}: time_conditioning={config['time_conditioning']}, "
          f"sigma 0 -> [1.0, 6.9]: max|dlogit| = {delta:.3e}")
    assert (delta > 1e-3) if config["time_conditioning"] else (delta == 0.0)


def check_rotary_relative():
    """With a float64 table, q.k after rotary depends only on the position offset."""
    rng = np.random.default_rng(0)
    worst = 0.0
    for head_dim in (4, 8, 12, 64):
        inv_freq = 10000.0 ** (-np.arange(0, head_dim, 2) / head_dim)
        angles = np.arange(200, dtype=np.float64)[:, None] * inv_freq[None, :]
        cos, sin = np.cos(angles), np.sin(angles)
        # The same q and k vectors placed at every position 0..199.
        q, k = (np.broadcast_to(v, (200, head_dim)) for v in rng.normal(size=(2, head_dim)))
        scores = apply_rotary(q, cos, sin) @ apply_rotary(k, cos, sin).T  # [p, r]
        for shift in (1, 7, 100):
            diff = np.abs(scores[shift:, shift:] - scores[:-shift, :-shift]).max()
            worst = max(worst, diff)
    print(f"  (c) rotary, float64 table, d in 4/8/12/64, shifts 1/7/100, positions "
          f"< 200: max |q.k(p+s, r+s) - q.k(p, r)| = {worst:.2e}")
    assert worst < 1e-12


def main():
    loaded = {}
    for fixture in FIXTURES:
        weights, logits = generate(fixture)
        report(fixture, logits)
        loaded[fixture["name"]] = weights
    print("self-checks:")
    for fixture in FIXTURES:
        check_bidirectional(fixture, loaded[fixture["name"]])
    for fixture in FIXTURES:
        check_sigma(fixture, loaded[fixture["name"]])
    check_rotary_relative()


if __name__ == "__main__":
    main()
