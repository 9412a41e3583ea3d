"""Checks that seed_loop.py's network is the MDLM network: its logits against the float64
reference of test/reference/mdlm_reference.py on the parity fixtures.

  python3 bench/seed/check_network.py      (prints the largest error relative to the logits' range)
"""

import json
import pathlib
import sys

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "bench" / "seed"), str(ROOT / "test" / "reference")]

import mdlm_reference  # noqa: E402
import seed_loop  # noqa: E402

for name in ["tiny-uncond", "awkward-cond"]:
    fixture = ROOT / "test" / "fixtures" / "parity" / name
    config = json.loads((fixture / "config.json").read_text())
    network = seed_loop.Dit(seed_loop.load_weights(fixture / "model.safetensors"), config)
    ids = np.random.default_rng(0).integers(0, config["vocab_size"], size=(2, min(16, config["model_length"])))
    sigma = np.array([0.3, 1.7])
    with torch.no_grad():
        ours = network(torch.from_numpy(ids), torch.from_numpy(sigma)).double().numpy()
    exact = mdlm_reference.forward(mdlm_reference.load_safetensors(fixture / "model.safetensors"), config, ids, sigma)
    error = np.abs(ours - exact).max() / np.abs(exact).max()
    print(f"{name}: max |error| / max |logit| = {error:.1e}")
    assert error < 1e-5, name
