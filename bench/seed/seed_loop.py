"""The seed's sampling loop on CPU in PyTorch, as a speed baseline for bench/cpu-vs-seed.ts.

Our own code, written to do what kuleshov-group/mdlm's `Diffusion._sample` does with
`sampler=ddpm_cache` and `noise_removal=True` (spec §4) on its DIT backbone (spec §1-§3):
every step draws from the full [B, L, V] categorical with Gumbel noise, the network runs
whenever the previous step changed the sequence, and one last pass takes the argmax. The
seed's flash-attn kernels do not run on a CPU; plain softmax attention stands in for them,
which is what running the seed there amounts to.

  python3 bench/seed/seed_loop.py --checkpoint DIR [--length 128] [--steps 128]
      [--num-samples 1] [--threads 1] [--seed 0]

Prints one JSON line: wall seconds for the loop, forward passes, seconds in them.
"""

import argparse
import json
import math
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F

EPS = 1e-5


def load_weights(path):
    """safetensors → {name without 'backbone.': float32 tensor}."""
    with open(path, "rb") as f:
        raw = f.read()
    (header_len,) = struct.unpack_from("<Q", raw, 0)
    header = json.loads(raw[8:8 + header_len])
    data = memoryview(raw)[8 + header_len:]
    dtypes = {"F32": np.float32, "F16": np.float16}
    weights = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=dtypes[info["dtype"]]).astype(np.float32)
        weights[name.removeprefix("backbone.")] = torch.from_numpy(array.reshape(info["shape"]).copy())
    return weights


class Dit(torch.nn.Module):
    """The DIT backbone's forward pass: raw logits [B, L, V]."""

    def __init__(self, weights, config):
        super().__init__()
        self.w = weights
        self.blocks = config["n_blocks"]
        self.heads = config["n_heads"]
        self.time_conditioning = config["time_conditioning"]
        head_dim = config["hidden_dim"] // self.heads
        inv_freq = 1.0 / (10000 ** (torch.arange(0, head_dim, 2).float() / head_dim))
        angles = torch.arange(config["model_length"]).float()[:, None] * inv_freq[None, :]
        self.cos, self.sin = angles.cos(), angles.sin()

    def linear(self, x, name, bias=True):
        weight = self.w[name + ".weight"]
        return F.linear(x, weight, self.w.get(name + ".bias") if bias else None)

    def conditioning(self, sigma):
        half = 128
        freqs = torch.exp(-math.log(10000) * torch.arange(half).float() / half)
        args = sigma[:, None].float() * freqs[None]
        t_freq = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        hidden = F.silu(self.linear(t_freq, "sigma_map.mlp.0"))
        return F.silu(self.linear(hidden, "sigma_map.mlp.2"))

    def rotate(self, x, length):
        cos, sin = self.cos[:length, None, :], self.sin[:length, None, :]
        half = x.shape[-1] // 2
        x1, x2 = x[..., :half], x[..., half:]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)

    def attention(self, qkv):
        batch, length, width = qkv.shape
        q, k, v = qkv.view(batch, length, 3, self.heads, width // (3 * self.heads)).unbind(2)
        q, k = self.rotate(q, length), self.rotate(k, length)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
        return (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, length, -1)

    def forward(self, ids, sigma):
        if not self.time_conditioning:
            sigma = torch.zeros_like(sigma)
        c = self.conditioning(sigma)
        x = self.w["vocab_embed.embedding"][ids]
        width = x.shape[-1]
        for i in range(self.blocks):
            p = f"blocks.{i}."
            shift1, scale1, gate1, shift2, scale2, gate2 = self.linear(c, p + "adaLN_modulation")[:, None].chunk(6, dim=-1)
            h = F.layer_norm(x, [width]) * self.w[p + "norm1.weight"]
            h = h * (1 + scale1) + shift1
            x = x + gate1 * self.linear(self.attention(self.linear(h, p + "attn_qkv", bias=False)), p + "attn_out", bias=False)
            h = F.layer_norm(x, [width]) * self.w[p + "norm2.weight"]
            h = h * (1 + scale2) + shift2
            x = x + gate2 * self.linear(F.gelu(self.linear(h, p + "mlp.0"), approximate="tanh"), p + "mlp.2")
        shift, scale = self.linear(c, "output_layer.adaLN_modulation")[:, None].chunk(2, dim=-1)
        h = F.layer_norm(x, [width]) * self.w["output_layer.norm_final.weight"]
        return self.linear(h * (1 + scale) + shift, "output_layer.linear")


class Loop:
    """`Diffusion._sample` with ddpm_cache, the loglinear noise and the SUBS parameterization."""

    def __init__(self, network, mask_index):
        self.network = network
        self.mask_index = mask_index
        self.passes = 0
        self.pass_seconds = 0.0

    def log_p_x0(self, x, sigma):
        started = time.perf_counter()
        logits = self.network(x, sigma)
        self.passes += 1
        self.pass_seconds += time.perf_counter() - started
        logits[:, :, self.mask_index] += -1000000.0
        logits = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
        unmasked = x != self.mask_index
        logits[unmasked] = -1000000.0
        logits[unmasked, x[unmasked]] = 0
        return logits

    @staticmethod
    def sigma(t):
        return -torch.log1p(-(1 - EPS) * t)

    def caching_update(self, x, t, dt, p_x0):
        if p_x0 is None:
            p_x0 = self.log_p_x0(x, self.sigma(t)).exp()
        q_xs = p_x0 * (t - (t - dt))[:, None, None]
        q_xs[:, :, self.mask_index] = (t - dt)[:, None]
        gumbel = 1e-10 - (torch.rand_like(q_xs) + 1e-10).log()
        drawn = (q_xs / gumbel).argmax(dim=-1)
        keep = (x != self.mask_index).to(x.dtype)
        return p_x0, keep * x + (1 - keep) * drawn

    def sample(self, batch, length, steps):
        x = torch.full((batch, length), self.mask_index, dtype=torch.int64)
        timesteps = torch.linspace(1, EPS, steps + 1)
        dt = (1 - EPS) / steps
        cache = None
        for i in range(steps):
            t = timesteps[i] * torch.ones(batch)
            cache, x_next = self.caching_update(x, t, dt, cache)
            if not torch.equal(x_next, x) or self.network.time_conditioning:
                cache = None
            x = x_next
        t = timesteps[-1] * torch.ones(batch)
        return self.log_p_x0(x, self.sigma(t)).argmax(dim=-1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--num-samples", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    with open(f"{args.checkpoint}/config.json") as f:
        config = json.load(f)
    network = Dit(load_weights(f"{args.checkpoint}/model.safetensors"), config)
    loop = Loop(network, config["vocab_size"] - 1)
    with torch.no_grad():
        started = time.perf_counter()
        loop.sample(args.num_samples, args.length, args.steps)
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "passes": loop.passes, "pass_seconds": loop.pass_seconds,
                      "threads": args.threads, "blas": loaded_blas()}))


def loaded_blas():
    """The BLAS library this process mapped (Debian's torch takes whichever alternative is installed)."""
    with open("/proc/self/maps") as maps:
        names = {line.split()[-1].rsplit("/", 1)[-1] for line in maps if "blas" in line.lower()}
    return sorted(names)


if __name__ == "__main__":
    main()
