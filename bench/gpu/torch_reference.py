"""PyTorch reference for the GPU bench: what this GPU does with the same network.

The MDLM forward pass of /work/shared/mdlm-spec.md section 2, written from the spec for
timing only: random weights, the shape read from the synthetic checkpoint's config.json,
matrix products and attention in bfloat16 (as the original runs under bf16 autocast),
LayerNorm, modulation and the residual stream in float32. time_conditioning is false, so the
conditioning vector and every adaLN modulation are constants, computed once.

Two modes, matching the two export heads:
  logits  all B x L x V logits, left on the GPU;
  positions  the output layer on K rows per sequence, float64 softmax, one token drawn per row by
          inverse CDF, tokens copied to the host (what the positions head does per step).
Plus one bf16 MatMul as the GPU's reachable rate. Prints one JSON object per line to --json.

  python3 bench/gpu/torch_reference.py --config CKPT/config.json --batch 1,8,32 --json out.jsonl
"""

import argparse
import json
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the dry run on a machine without PyTorch
    torch = None

LN_EPS = 1e-5


def random_weight(generator, *shape, dtype, scale=0.02):
    return (torch.randn(*shape, generator=generator) * scale).to("cuda", dtype)


class Mdlm:
    """Weights and the forward pass; no nn.Module, nothing trains."""

    def __init__(self, config):
        self.vocab, self.width = config["vocab_size"], config["hidden_dim"]
        self.heads = config["n_heads"]
        self.head_width = self.width // self.heads
        g = torch.Generator().manual_seed(0)
        bf16, f32 = torch.bfloat16, torch.float32
        D, V = self.width, self.vocab
        self.embedding = random_weight(g, V, D, dtype=f32, scale=1.0)

        def modulation(count):
            # adaLN_modulation(c) for the constant c: `count` vectors broadcast over L.
            return [random_weight(g, 1, 1, D, dtype=f32, scale=0.1) for _ in range(count)]

        self.blocks = [
            {
                "mod": modulation(6),
                "norm1": torch.ones(D, device="cuda"),
                "norm2": torch.ones(D, device="cuda"),
                "qkv": random_weight(g, 3 * D, D, dtype=bf16),
                "out": random_weight(g, D, D, dtype=bf16),
                "up": random_weight(g, 4 * D, D, dtype=bf16),
                "up_bias": random_weight(g, 4 * D, dtype=bf16),
                "down": random_weight(g, D, 4 * D, dtype=bf16),
                "down_bias": random_weight(g, D, dtype=bf16),
            }
            for _ in range(config["n_blocks"])
        ]
        self.final_mod = modulation(2)
        self.final_norm = torch.ones(D, device="cuda")
        self.linear = random_weight(g, V, D, dtype=bf16)
        self.linear_bias = random_weight(g, V, dtype=bf16)
        self.rotary = self.rotary_tables(config["model_length"])

    def rotary_tables(self, length):
        half = self.head_width // 2
        inv = 1.0 / (10000 ** (torch.arange(half, dtype=torch.float32) * 2 / self.head_width))
        angles = torch.arange(length, dtype=torch.float32)[:, None] * inv[None, :]
        shape = (1, length, 1, half)  # broadcast over [B, L, H, d/2]
        return angles.cos().reshape(shape).to("cuda", torch.bfloat16), angles.sin().reshape(shape).to("cuda", torch.bfloat16)

    def rotate(self, x, length):
        cos, sin = (table[:, :length] for table in self.rotary)
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)

    def norm(self, h, weight, shift, scale):
        return F.layer_norm(h, (self.width,), weight, eps=LN_EPS) * (1 + scale) + shift

    def block(self, h, w):
        B, L, D = h.shape
        shift1, scale1, gate1, shift2, scale2, gate2 = w["mod"]
        a = self.norm(h, w["norm1"], shift1, scale1).to(torch.bfloat16)
        q, k, v = F.linear(a, w["qkv"]).view(B, L, 3, self.heads, self.head_width).unbind(2)
        q, k = self.rotate(q, L), self.rotate(k, L)
        attention = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        attention = attention.transpose(1, 2).reshape(B, L, D)
        h = h + gate1 * F.linear(attention, w["out"]).float()
        m = self.norm(h, w["norm2"], shift2, scale2).to(torch.bfloat16)
        hidden = F.gelu(F.linear(m, w["up"], w["up_bias"]), approximate="tanh")
        return h + gate2 * F.linear(hidden, w["down"], w["down_bias"]).float()

    def features(self, ids):
        h = self.embedding[ids]
        for w in self.blocks:
            h = self.block(h, w)
        return self.norm(h, self.final_norm, *self.final_mod).to(torch.bfloat16)

    def logits(self, ids):
        return F.linear(self.features(ids), self.linear, self.linear_bias)

    def sample(self, ids, positions, uniforms):
        rows = self.features(ids).gather(1, positions[..., None].expand(-1, -1, self.width))
        weights = torch.softmax(F.linear(rows, self.linear, self.linear_bias).double(), dim=-1)
        tokens = (weights.cumsum(-1) < uniforms[..., None]).sum(-1)
        return tokens.cpu()


def timed_ms(run, repeat):
    for _ in range(3):
        run()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def forward_gflop(config, batch, length, output_rows):
    """Spec section 6, 2 FLOPs per multiply-add (the same count as bench/forward.ts)."""
    D, blocks = config["hidden_dim"], config["n_blocks"]
    macs = batch * length * blocks * 12 * D * D + batch * blocks * 2 * length * length * D + batch * output_rows * config["vocab_size"] * D
    return 2 * macs / 1e9


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--batch", default="1,8,32")
    parser.add_argument("--length", type=int)
    parser.add_argument("--positions", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--matmul-size", type=int, default=8192)
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    # Read first, so that a dry run without PyTorch still checks the shape it would use.
    with open(args.config) as f:
        config = json.load(f)
    if torch is None or not torch.cuda.is_available():
        reason = "PyTorch is not installed" if torch is None else "PyTorch sees no CUDA device"
        with open(args.json, "a") as out:
            print(json.dumps({"kind": "skip", "what": "PyTorch bf16 reference", "reason": reason}), file=out)
        print(f"torch_reference: {reason}; skipped")
        return
    length = args.length or config["model_length"]
    gpu = torch.cuda.get_device_name()
    model = Mdlm(config)
    out = open(args.json, "a")

    def emit(**fields):
        record = {"kind": "torch", "gpu": gpu, **fields}
        print(json.dumps(record), file=out, flush=True)
        print(record)

    n = args.matmul_size
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    ms = timed_ms(lambda: a @ b, args.repeat)
    emit(mode="matmul", batch=1, length=n, outputRows=0, ms=ms, gflop=2 * n**3 / 1e9)
    del a, b
    with torch.inference_mode():
        for batch in (int(text) for text in args.batch.split(",")):
            ids = torch.randint(0, config["vocab_size"] - 1, (batch, length), device="cuda")
            positions = torch.randint(0, length, (batch, args.positions), device="cuda")
            uniforms = torch.rand(batch, args.positions, device="cuda", dtype=torch.float64)
            ms = timed_ms(lambda: model.logits(ids), args.repeat)
            emit(mode="logits", batch=batch, length=length, outputRows=length, ms=ms, gflop=forward_gflop(config, batch, length, length))
            ms = timed_ms(lambda: model.sample(ids, positions, uniforms), args.repeat)
            emit(mode="positions", batch=batch, length=length, outputRows=args.positions, ms=ms, gflop=forward_gflop(config, batch, length, args.positions))
            torch.cuda.empty_cache()


if __name__ == "__main__":
    sys.exit(main())
