"""Write a Lightning .ckpt of mdlm-owt's shape (random weights, EMA and raw) for bench/export-owt.ts.

Uses the stand-in networks and the Lightning dictionary of test/reference/make_ckpt_fixtures.py,
at the owt shape: D 768, 12 blocks, 12 heads, C 128, V 50258, L 1024, float32, flat EMA.

    /usr/bin/python3 bench/ckpt/write_owt_ckpt.py OUT.ckpt
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "test", "reference"))

import torch  # noqa: E402

import make_ckpt_fixtures as fixtures  # noqa: E402

OWT = {"vocab": 50258, "dim": 768, "cond_dim": 128, "n_blocks": 12, "n_heads": 12, "length": 1024}


def main():
    spec = dict(fixtures.MAIN[0], seed=2024)
    _, checkpoint = fixtures.build(spec, OWT)
    torch.save(checkpoint, sys.argv[1])


if __name__ == "__main__":
    main()
