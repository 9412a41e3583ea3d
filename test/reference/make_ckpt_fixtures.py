"""Generate the Lightning .ckpt fixtures in test/fixtures/ckpt/.

Rerun from the repository root with Debian's python3, which has torch 1.13 and
omegaconf 2.2 (CI has no torch: the tests only read the committed files):
    /usr/bin/python3 test/reference/make_ckpt_fixtures.py

Seeds are fixed and torch.save writes fixed zip timestamps, so a rerun with the
same torch and omegaconf rewrites byte-identical files (the script prints the
sha256 of each one; compare with `git status`).

What it writes:
  <name>.ckpt      archives written by torch.save itself, shaped like the seed's
                   Lightning checkpoints (spec section 11): state_dict, ema,
                   hyper_parameters (an OmegaConf config and a pickled tokenizer
                   of a class no reader knows), optimizer_states, lr_schedulers,
                   loops, callbacks, epoch, global_step, the Lightning version.
  expected.json    torch's own view of those files, the independent reference:
                   per fixture the sha256 of the file, the MdlmConfig the
                   hyper-parameters describe, the backbone's parameter order as
                   torch's named_parameters() gives it, and for the EMA and the
                   raw weights each tensor's shape, the sha256 of its values as
                   little-endian float32 and its first values.
  broken.json      the files a reader must refuse, with the error code and the
                   names its message must contain. Hostile pickles carry a
                   marker path: their payload creates that file when the archive
                   is opened with torch.load, which this script checks for
                   every payload marked live before committing to it.

The networks are plain-torch stand-ins of the seed's models/dit.py and
models/autoregressive.py: only the names, shapes and registration order (hence
the order of parameters()) are meant to be exact.
"""

import collections
import dataclasses
import hashlib
import json
import math
import os
import pickle
import re
import shutil
import struct
import subprocess
import sys
import time
import types
import zipfile
from pathlib import Path

sys.dont_write_bytecode = True  # keep test/reference free of __pycache__

import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from torch import nn  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "ckpt"
MARKER_DIR = Path("/tmp/mdlm-ckpt-hostile")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


# --------------------------------------------------------------------------
# Stand-ins of the seed's modules (names, shapes, registration order).

class LayerNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones([dim]))


class Rotary(nn.Module):
    def __init__(self, dim):
        super().__init__()
        inv_freq = 1.0 / (10_000 ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("inv_freq", inv_freq)


class Block(nn.Module):
    def __init__(self, dim, cond_dim, adaln):
        super().__init__()
        self.norm1 = LayerNorm(dim)
        self.attn_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.attn_out = nn.Linear(dim, dim, bias=False)
        self.dropout1 = nn.Dropout(0.1)
        self.norm2 = LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, 4 * dim), nn.GELU(approximate="tanh"), nn.Linear(4 * dim, dim))
        self.dropout2 = nn.Dropout(0.1)
        if adaln:  # the DIT's blocks are conditioned, the AR's are not
            self.adaLN_modulation = nn.Linear(cond_dim, 6 * dim)


class EmbeddingLayer(nn.Module):
    def __init__(self, dim, vocab):
        super().__init__()
        self.embedding = nn.Parameter(torch.empty((vocab, dim)))


class TimestepEmbedder(nn.Module):
    def __init__(self, cond_dim):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(256, cond_dim), nn.SiLU(), nn.Linear(cond_dim, cond_dim))


class FinalLayer(nn.Module):
    def __init__(self, dim, vocab, cond_dim, adaln):
        super().__init__()
        self.norm_final = LayerNorm(dim)
        self.linear = nn.Linear(dim, vocab)
        if adaln:
            self.adaLN_modulation = nn.Linear(cond_dim, 2 * dim)


class Backbone(nn.Module):
    """models/dit.py DIT (kind 'dit') or models/autoregressive.py AR (kind 'ar')."""

    def __init__(self, kind, vocab, dim, cond_dim, n_blocks, n_heads):
        super().__init__()
        dit = kind == "dit"
        self.vocab_embed = EmbeddingLayer(dim, vocab)
        if dit:
            self.sigma_map = TimestepEmbedder(cond_dim)
        self.rotary_emb = Rotary(dim // n_heads)
        self.blocks = nn.ModuleList([Block(dim, cond_dim, dit) for _ in range(n_blocks)])
        self.output_layer = FinalLayer(dim, vocab, cond_dim, dit)


class Diffusion(nn.Module):
    """Only so that state_dict() is prefixed `backbone.` and carries _metadata, as Lightning's is."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone


# --------------------------------------------------------------------------
# Objects of classes the reader does not know, pickled as transformers' are:
# NEWOBJ of the class, then BUILD with its state (bytes go through
# _codecs.encode in protocol 2, sets through builtins.set).

def fake_module(name):
    """Registers an empty module (and its parents) so that pickle can name classes in it."""
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        sys.modules.setdefault(".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
    return sys.modules[name]


def fake_class(module, name, base=object, body=None):
    cls = type(name, (base,), dict(body or {}))
    cls.__module__ = module
    cls.__qualname__ = name
    setattr(fake_module(module), name, cls)
    return cls


TokenizersModel = fake_class("tokenizers.models", "Model")
TokenizersTokenizer = fake_class("tokenizers", "Tokenizer", body={
    "__getnewargs__": lambda self: (TokenizersModel(),),
    "__getstate__": lambda self: self.json,
    "__setstate__": lambda self, state: setattr(self, "json", state),
})
GPT2TokenizerFast = fake_class("transformers.models.gpt2.tokenization_gpt2_fast", "GPT2TokenizerFast")
BertTokenizer = fake_class("transformers.models.bert.tokenization_bert", "BertTokenizer")


def gpt2_tokenizer():
    core = TokenizersTokenizer()
    core.json = b'{"version":"1.0","model":{"type":"BPE","vocab":{"!":0}}}'
    tok = GPT2TokenizerFast()
    tok.__dict__.update({
        "name_or_path": "gpt2",
        "_tokenizer": core,
        "init_kwargs": {"model_max_length": 1024, "add_prefix_space": False},
        "model_max_length": 1024,
        "padding_side": "right",
        "model_input_names": ["input_ids", "attention_mask"],
        "_special_token_ids": {50256, 50257},  # ints: a set of str would pickle in hash-seed order
    })
    return tok


def bert_tokenizer():
    tok = BertTokenizer()
    tok.__dict__.update({
        "name_or_path": "bert-base-uncased",
        "vocab": collections.OrderedDict([("[PAD]", 0), ("[UNK]", 100), ("[MASK]", 103)]),
        "do_lower_case": True,
        "never_split_ids": frozenset([100, 103]),
    })
    return tok


# --------------------------------------------------------------------------
# Hyper-parameters shaped like the seed's configs/config.yaml after Hydra:
# interpolations stay unresolved strings in the pickle, as in the seed's files.

@dataclasses.dataclass
class TrainingConfig:
    """A structured section, so that typed OmegaConf nodes are pickled too."""
    ema: float = 0.9999
    antithetic_sampling: bool = True
    importance_sampling: bool = False
    sampling_eps: float = 1e-3
    change_of_variables: bool = False
    seed_note: str = "typed nodes"
    accumulate: int = 1


TrainingConfig.__module__ = "mdlm_fixture_configs"
TrainingConfig.__qualname__ = "TrainingConfig"
setattr(fake_module("mdlm_fixture_configs"), "TrainingConfig", TrainingConfig)


def seed_config(shape, parameterization, backbone, time_conditioning, tokenizer_name,
                structured_training=False, minimal=False):
    model = {
        "name": "tiny", "type": "ddit", "hidden_size": shape["dim"], "cond_dim": shape["cond_dim"],
        "length": shape["length"], "n_blocks": shape["n_blocks"], "n_heads": shape["n_heads"],
        "scale_by_sigma": True, "dropout": 0.1, "tie_word_embeddings": False,
    }
    if backbone == "ar":
        model["causal"] = True
    config = OmegaConf.create({
        "mode": "train", "diffusion": "absorbing_state", "backbone": backbone,
        "parameterization": parameterization, "time_conditioning": time_conditioning,
        "T": 0, "subs_masking": False, "seed": 1,
        "loader": {
            "global_batch_size": 512, "eval_global_batch_size": "${.global_batch_size}",
            "batch_size": "${div_up:${.global_batch_size}, ${eval:${trainer.devices} * ${trainer.num_nodes}}}",
            "num_workers": "${eval:\"len(__import__('os').sched_getaffinity(0))\"}",
            "pin_memory": True,
        },
        "sampling": {"predictor": "analytic" if parameterization == "sedd" else "ddpm_cache",
                     "steps": 128, "noise_removal": True, "semi_ar": False},
        "training": OmegaConf.structured(TrainingConfig) if structured_training else {
            "ema": 0.9999, "antithetic_sampling": True, "sampling_eps": 1e-3},
        "eval": {"checkpoint_path": "", "disable_ema": False,
                 "gen_ppl_eval_model_name_or_path": "gpt2-large"},
        "optim": {"weight_decay": 0, "lr": 3e-4, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
        "trainer": {"_target_": "lightning.Trainer", "devices": "${device_count:}", "num_nodes": 1,
                    "precision": "bf16", "max_steps": 1_000_000},
        "model": model,
        "data": {"train": "openwebtext-train", "valid": "openwebtext-valid",
                 "tokenizer_name_or_path": tokenizer_name, "wrap": True, "streaming": False},
        "noise": {"type": "loglinear", "sigma_min": 1e-4, "sigma_max": 20},
        "lr_scheduler": {"_target_": "transformers.get_constant_schedule_with_warmup",
                         "num_warmup_steps": 2500},
        "checkpointing": {"save_dir": "${cwd:}", "resume_from_ckpt": True,
                          "resume_ckpt_path": "${.save_dir}/checkpoints/last.ckpt"},
    })
    if minimal:  # the broken fixtures keep only what a reader looks at, to stay small
        for section in ("loader", "sampling", "training", "eval", "optim", "trainer", "lr_scheduler",
                        "checkpointing"):
            del config[section]
    OmegaConf.set_struct(config, True)  # Hydra hands the seed a struct-flagged config
    return config


# --------------------------------------------------------------------------
# Lightning checkpoint dictionaries.

def randomize(module, generator, scale=0.5):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * scale)


def ema_of(backbone, generator, flat):
    """Shadow params that differ from the raw weights; `flat` makes them views into one storage."""
    shadows = [p.detach().clone() * 0.75 + 0.125 * torch.randn(p.shape, generator=generator).to(p.dtype)
               for p in backbone.parameters()]
    if not flat:
        return shadows
    storage = torch.cat([s.flatten() for s in shadows])
    views, offset = [], 0
    for s in shadows:
        views.append(storage[offset:offset + s.numel()].view(s.shape))
        offset += s.numel()
    return views


def lightning_dict(backbone, ema, config, tokenizer):
    params = list(backbone.parameters())
    optimizer_state = {0: {"step": torch.tensor(10.0),
                           "exp_avg": torch.zeros_like(params[0], dtype=torch.float32),
                           # dtypes no weight may have: the reader must not look at these
                           "exp_avg_sq": torch.full(params[0].shape, 1e-6, dtype=torch.float64),
                           "updates": torch.arange(3, dtype=torch.int64)}}
    checkpoint_key = ("ModelCheckpoint{'monitor': 'val/nll', 'mode': 'min', 'every_n_train_steps': 0, "
                      "'every_n_epochs': 1, 'train_time_interval': None}")
    progress = {"ready": 10, "started": 10, "processed": 10, "completed": 10}
    return {
        "epoch": 0,
        "global_step": 10,
        "pytorch-lightning_version": "2.2.1",
        "state_dict": Diffusion(backbone).state_dict(),
        "loops": {"fit_loop": {
            "state_dict": {},
            "epoch_loop.state_dict": {"_batches_that_stepped": 10},
            "epoch_loop.batch_progress": {"total": dict(progress), "current": dict(progress),
                                          "is_last_batch": False},
            "epoch_progress": {"total": dict(progress), "current": dict(progress)},
        }},
        "callbacks": {checkpoint_key: {
            "monitor": "val/nll", "best_model_score": torch.tensor(3.25),
            "best_model_path": "/runs/checkpoints/best.ckpt", "current_score": torch.tensor(3.25),
            "dirpath": "/runs/checkpoints", "best_k_models": {"/runs/checkpoints/best.ckpt": torch.tensor(3.25)},
            "kth_value": torch.tensor(math.inf), "last_model_path": "/runs/checkpoints/last.ckpt",
        }},
        "optimizer_states": [{
            "state": optimizer_state,
            "param_groups": [{"lr": 3e-4, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
                              "amsgrad": False, "foreach": None, "maximize": False,
                              "capturable": False, "initial_lr": 3e-4,
                              "params": list(range(len(params)))}],
        }],
        "lr_schedulers": [{"base_lrs": [3e-4], "last_epoch": 10, "verbose": False, "_step_count": 11,
                           "_get_lr_called_within_step": False, "_last_lr": [3e-4], "lr_lambdas": [{}]}],
        "ema": {"decay": 0.9999, "num_updates": 10, "shadow_params": ema},
        "hparams_name": "kwargs",
        "hyper_parameters": {"config": config, "tokenizer": tokenizer},
    }


# --------------------------------------------------------------------------
# Fixture specifications.

TINY = {"vocab": 20, "dim": 8, "cond_dim": 4, "n_blocks": 2, "n_heads": 2, "length": 16}
SMALL = {"vocab": 10, "dim": 4, "cond_dim": 2, "n_blocks": 1, "n_heads": 2, "length": 8}

MAIN = [
    # name, seed, backbone kind, parameterization, time_conditioning, dtype, flat EMA, tokenizer
    dict(name="mdlm", seed=1101, kind="dit", parameterization="subs", time_conditioning=False,
         dtype=torch.float32, flat_ema=True, tokenizer="gpt2"),
    dict(name="sedd", seed=1102, kind="dit", parameterization="sedd", time_conditioning=True,
         dtype=torch.bfloat16, flat_ema=False, tokenizer="gpt2", structured_training=True),
    dict(name="ar", seed=1103, kind="ar", parameterization="ar", time_conditioning=False,
         dtype=torch.float16, flat_ema=False, tokenizer="bert-base-uncased"),
]


def build(spec, shape=TINY):
    generator = torch.Generator().manual_seed(spec["seed"])
    backbone = Backbone(spec["kind"], shape["vocab"], shape["dim"], shape["cond_dim"],
                        shape["n_blocks"], shape["n_heads"])
    randomize(backbone, generator)
    backbone = backbone.to(spec["dtype"])
    ema = ema_of(backbone, generator, spec["flat_ema"])
    config = seed_config(shape, spec["parameterization"], spec["kind"], spec["time_conditioning"],
                         spec["tokenizer"], spec.get("structured_training", False), shape is SMALL)
    tokenizer = gpt2_tokenizer() if spec["tokenizer"] == "gpt2" else bert_tokenizer()
    return backbone, lightning_dict(backbone, ema, config, tokenizer)


def tensor_facts(tensor):
    values = tensor.detach().float().contiguous()
    return {
        "shape": list(values.shape),
        "sha256": hashlib.sha256(values.numpy().astype("<f4").tobytes()).hexdigest(),
        "head": [float(v) for v in values.flatten()[:4]],
    }


def expected_entry(path, backbone, ckpt, shape, spec):
    names = [name for name, _ in backbone.named_parameters()]
    raw = {name: tensor_facts(ckpt["state_dict"]["backbone." + name]) for name in names}
    entry = {
        "sha256": sha256_file(path),
        "config": {
            "model_type": "mdlm", "vocab_size": shape["vocab"], "model_length": shape["length"],
            "hidden_dim": shape["dim"], "cond_dim": shape["cond_dim"], "n_blocks": shape["n_blocks"],
            "n_heads": shape["n_heads"], "dropout": 0.1, "time_conditioning": spec["time_conditioning"],
        },
        "parameterization": spec["parameterization"],
        "backbone": spec["kind"],
        "tokenizer_name": spec["tokenizer"],
        "parameter_order": names,
        "raw": raw,
    }
    if "ema" in ckpt:
        entry["ema"] = {name: tensor_facts(t) for name, t in zip(names, ckpt["ema"]["shadow_params"])}
    return entry


def sha256_file(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save(ckpt, name):
    path = OUT / name
    torch.save(ckpt, path)
    return path


# --------------------------------------------------------------------------
# Zip surgery, keeping the layout torch.save writes (STORED, <stem>/...).

def rezip(source, target, drop=(), compression=zipfile.ZIP_STORED, extra=None):
    """Copies an archive entry by entry, renaming the <stem>/ folder, leaving out `drop`, adding `extra`."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        records = [(info.filename.split("/", 1)[1], src.read(info)) for info in src.infolist()]
        for suffix, payload in records + list((extra or {}).items()):
            if suffix in drop:
                continue
            out = zipfile.ZipInfo(f"{target.stem}/{suffix}", date_time=ZIP_DATE)
            out.compress_type = compression
            dst.writestr(out, payload)


def storage_key_of(path, tensor):
    """The data/<key> entry holding exactly this tensor's bytes (each fixture storage is unique)."""
    wanted = tensor.detach().contiguous().numpy().tobytes()
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if "/data/" in info.filename and archive.read(info) == wanted:
                return info.filename.split("/data/", 1)[1]
    raise RuntimeError("storage not found")


def write_pickle_archive(name, data):
    """A torch.save-shaped archive around a hand-written data.pkl."""
    path = OUT / name
    stem = path.stem
    with zipfile.ZipFile(path, "w") as archive:
        for entry, payload in ((f"{stem}/data.pkl", data), (f"{stem}/version", b"3\n")):
            archive.writestr(zipfile.ZipInfo(entry, date_time=ZIP_DATE), payload)
    return path


# --------------------------------------------------------------------------
# Broken checkpoints (all from the SMALL shape).

def small_spec(seed):
    return dict(seed=seed, kind="dit", parameterization="subs", time_conditioning=False,
                dtype=torch.float32, flat_ema=False, tokenizer="gpt2")


def broken_fixtures(expected):
    cases = []
    names = None

    def small(seed, edit=None):
        nonlocal names
        backbone, ckpt = build(small_spec(seed), SMALL)
        names = [n for n, _ in backbone.named_parameters()]
        if edit is not None:
            edit(ckpt)
        return backbone, ckpt

    def index(name):
        return names.index(name)

    # Reference small checkpoint whose optimizer storages are gone: weights still read. It
    # also records its byte order, as torch >= 2.1 does.
    backbone, ckpt = small(1201)
    full = save(ckpt, "small-full.ckpt")
    target = OUT / "optimizer-storages-dropped.ckpt"
    optimizer_keys = {storage_key_of(full, t) for state in ckpt["optimizer_states"][0]["state"].values()
                      for t in state.values() if t.numel() > 1}
    rezip(full, target, drop={f"data/{key}" for key in optimizer_keys}, extra={"byteorder": b"little"})
    expected[target.name] = expected_entry(target, backbone, ckpt, SMALL, small_spec(1201))
    deflated = OUT / "deflate.ckpt"
    rezip(full, deflated, compression=zipfile.ZIP_DEFLATED)
    expected[deflated.name] = expected_entry(deflated, backbone, ckpt, SMALL, small_spec(1201))

    big_endian = OUT / "big-endian.ckpt"
    rezip(full, big_endian, extra={"byteorder": b"big"})
    cases.append({"file": big_endian.name, "code": "invalid_checkpoint", "names": ["big-endian"]})

    truncated = OUT / "truncated.ckpt"
    truncated.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    cases.append({"file": truncated.name, "code": "corrupt_file", "names": [truncated.name]})

    missing_name = "blocks.0.attn_out.weight"
    key = storage_key_of(full, ckpt["ema"]["shadow_params"][index(missing_name)])
    missing = OUT / "missing-storage.ckpt"
    rezip(full, missing, drop={f"data/{key}"})
    cases.append({"file": missing.name, "code": "corrupt_file",
                  "names": [f"data/{key}", missing_name]})
    full.unlink()

    def int64_weight(ckpt):
        i = index("blocks.0.norm1.weight")
        ckpt["ema"]["shadow_params"][i] = torch.arange(SMALL["dim"], dtype=torch.int64)
        ckpt["state_dict"]["backbone.blocks.0.norm1.weight"] = torch.arange(SMALL["dim"], dtype=torch.int64)
    save(small(1202, int64_weight)[1], "int64-weight.ckpt")
    cases.append({"file": "int64-weight.ckpt", "code": "unsupported_dtype",
                  "names": ["blocks.0.norm1.weight", "int64"]})

    wrong_dim, (vocab, dim) = 2 * SMALL["dim"], (SMALL["vocab"], SMALL["dim"])

    def disagree(ckpt):
        model = ckpt["hyper_parameters"]["config"].model
        model.hidden_size = wrong_dim
        model.n_blocks = 2
    save(small(1203, disagree)[1], "config-mismatch.ckpt")
    cases.append({"file": "config-mismatch.ckpt", "code": "invalid_checkpoint", "names": [
        "missing tensors: backbone.blocks.1.norm1.weight",
        f"mis-shaped tensor backbone.vocab_embed.embedding: expected [{vocab}, {wrong_dim}], found [{vocab}, {dim}]",
        f"mis-shaped tensor backbone.blocks.0.attn_qkv.weight: expected [{3 * wrong_dim}, {wrong_dim}], "
        f"found [{3 * dim}, {dim}]",
    ]})

    def bad_hparams(ckpt):
        config = ckpt["hyper_parameters"]["config"]
        OmegaConf.set_struct(config, False)
        config.model.n_heads = "two"
        config.backbone = "dimamba"
        del config.data["tokenizer_name_or_path"]
    save(small(1204, bad_hparams)[1], "bad-hparams.ckpt")
    cases.append({"file": "bad-hparams.ckpt", "code": "invalid_config", "names": [
        "hyper_parameters.config.model.n_heads", "hyper_parameters.config.backbone",
        "hyper_parameters.config.data.tokenizer_name_or_path"]})

    def ema_count(ckpt):
        ckpt["ema"]["shadow_params"].pop()
    save(small(1205, ema_count)[1], "ema-count.ckpt")
    cases.append({"file": "ema-count.ckpt", "code": "invalid_checkpoint",
                  "names": ["ema.shadow_params", str(len(names) - 1), str(len(names))]})

    def ema_order(ckpt):
        shadows = ckpt["ema"]["shadow_params"]
        i, j = index("blocks.0.attn_qkv.weight"), index("blocks.0.attn_out.weight")
        shadows[i], shadows[j] = shadows[j], shadows[i]
    save(small(1206, ema_order)[1], "ema-order.ckpt")
    cases.append({"file": "ema-order.ckpt", "code": "invalid_checkpoint", "names": [
        f"ema.shadow_params[{index('blocks.0.attn_qkv.weight')}] (blocks.0.attn_qkv.weight)",
        f"ema.shadow_params[{index('blocks.0.attn_out.weight')}] (blocks.0.attn_out.weight)"]})

    backbone, ckpt = small(1207, lambda ckpt: ckpt.pop("ema"))
    path = save(ckpt, "no-ema.ckpt")
    expected[path.name] = expected_entry(path, backbone, ckpt, SMALL, small_spec(1207))
    cases.append({"file": "no-ema.ckpt", "code": "invalid_checkpoint", "names": ["ema", "raw"]})

    def transposed(ckpt):
        i = index("blocks.0.attn_out.weight")
        ckpt["ema"]["shadow_params"][i] = ckpt["ema"]["shadow_params"][i].t()
    save(small(1208, transposed)[1], "noncontiguous.ckpt")
    cases.append({"file": "noncontiguous.ckpt", "code": "invalid_checkpoint",
                  "names": ["blocks.0.attn_out.weight", f"[1, {SMALL['dim']}]"]})

    torch.save({"backbone.vocab_embed.embedding": torch.zeros(2, 2)}, OUT / "plain-state-dict.ckpt")
    cases.append({"file": "plain-state-dict.ckpt", "code": "invalid_checkpoint", "names": ["state_dict"]})

    torch.save({"state_dict": {}}, OUT / "legacy-format.ckpt", _use_new_zipfile_serialization=False)
    cases.append({"file": "legacy-format.ckpt", "code": "corrupt_file", "names": ["zip"]})
    return cases


# --------------------------------------------------------------------------
# Hostile pickles. Each payload creates MARKER_DIR/<stem> if unpickled by Python.

def marker(stem):
    return str(MARKER_DIR / stem)


def touch_command(stem):
    return f"touch {marker(stem)}"


class Reducer:
    """An object whose pickle is `callable(*args)` through REDUCE."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def setstate_touch(self, state):
    Path(state["marker"]).touch()


EvilTensor = fake_class("mdlm_evil", "Tensor", body={"__setstate__": setstate_touch})
EvilFactory = fake_class("mdlm_evil", "Factory", body={
    "__call__": lambda self, path: Path(path).touch()})


def evil_instance(cls, stem):
    obj = cls.__new__(cls)
    obj.__dict__["marker"] = marker(stem)
    return obj


# Hand-written opcodes (protocol 2 framing unless a case needs 4).
def op_str(text):
    raw = text.encode()
    return pickle.BINUNICODE + struct.pack("<I", len(raw)) + raw


def op_global(module, name):
    return pickle.GLOBAL + f"{module}\n{name}\n".encode()


def op_call(fn, *args):
    return fn + pickle.MARK + b"".join(args) + pickle.TUPLE + pickle.REDUCE


def op_dict(*pairs):
    return pickle.EMPTY_DICT + pickle.MARK + b"".join(k + v for k, v in pairs) + pickle.SETITEMS


def op_put(index):
    return pickle.BINPUT + bytes([index])


def op_get(index):
    return pickle.BINGET + bytes([index])


def lightning_shell(payload, where="state_dict"):
    """A top-level dict like a checkpoint's, with the payload as one state_dict entry or tokenizer."""
    if where == "state_dict":
        body = op_dict((op_str("state_dict"), op_dict((op_str("backbone.vocab_embed.embedding"), payload))))
    else:
        body = op_dict((op_str("hyper_parameters"), op_dict((op_str("tokenizer"), payload))))
    return pickle.PROTO + b"\x02" + body + pickle.STOP


def proto4(body):
    return pickle.PROTO + b"\x04" + body + pickle.STOP


def hostile_fixtures():
    """(stem, how the archive is written, what the refusal names, whether Python's loader runs it)."""
    cases = []

    def torch_saved(stem, obj, names, code="unsafe_checkpoint", live=True):
        torch.save(obj, OUT / f"{stem}.ckpt")
        cases.append(dict(stem=stem, code=code, names=names, live=live))

    def hand_written(stem, data, names, code="unsafe_checkpoint", live=True):
        write_pickle_archive(f"{stem}.ckpt", data)
        cases.append(dict(stem=stem, code=code, names=names, live=live))

    def tokenizer(obj):
        return {"hyper_parameters": {"tokenizer": obj}, "state_dict": {}}

    hand_written("hostile-os-system", lightning_shell(
        op_call(op_global("os", "system"), op_str(touch_command("hostile-os-system")))), ["os.system"])
    # os.system pickles as posix.system; here as the tokenizer, where unknown classes are tolerated.
    torch_saved("hostile-posix-system", tokenizer(
        Reducer(os.system, (touch_command("hostile-posix-system"),))), ["posix.system"])
    torch_saved("hostile-eval", tokenizer(Reducer(eval, (
        f"open({marker('hostile-eval')!r}, 'w').close()",))), ["__builtin__.eval"])
    torch_saved("hostile-exec", tokenizer(Reducer(exec, (
        f"open({marker('hostile-exec')!r}, 'w').close()",))), ["__builtin__.exec"])
    # Protocol 2 writes subprocess as Python 2's `commands`, which Python 3 maps back on loading.
    torch_saved("hostile-popen", tokenizer(Reducer(subprocess.Popen, (
        ["touch", marker("hostile-popen")],))), ["commands.Popen"])
    # getattr(subprocess.os, 'system')(cmd): the callable of the outer REDUCE comes from the inner one.
    hand_written("hostile-getattr", lightning_shell(op_call(
        op_call(op_global("builtins", "getattr"), op_global("subprocess", "os"), op_str("system")),
        op_str(touch_command("hostile-getattr")))), ["builtins.getattr"])
    hand_written("hostile-import", lightning_shell(op_call(
        op_call(op_global("builtins", "getattr"),
                op_call(op_global("builtins", "__import__"), op_str("os")), op_str("system")),
        op_str(touch_command("hostile-import")))), ["builtins.__import__"])
    # An allow-listed call's result used as a callable (Python itself would fail: a dict is not callable).
    hand_written("hostile-nested-reduce", lightning_shell(op_call(
        op_call(op_global("collections", "OrderedDict")), op_str(touch_command("hostile-nested-reduce")))),
        ["REDUCE", "dict"], live=False)
    # An instance (tolerated as a value) called through REDUCE: Python would run its __call__.
    hand_written("hostile-call-instance", lightning_shell(op_call(
        op_global("mdlm_evil", "Factory") + pickle.EMPTY_TUPLE + pickle.NEWOBJ,
        op_str(marker("hostile-call-instance"))), where="tokenizer"), ["mdlm_evil.Factory"])
    # STACK_GLOBAL whose strings were stored in the memo as innocent dict entries.
    hand_written("hostile-stack-global", proto4(
        pickle.EMPTY_DICT + pickle.MARK
        + op_str("module") + op_str("posix") + op_put(1) + op_str("name") + op_str("system") + op_put(2)
        + op_str("state_dict") + op_get(1) + op_get(2) + pickle.STACK_GLOBAL
        + pickle.MARK + op_str(touch_command("hostile-stack-global")) + pickle.TUPLE + pickle.REDUCE
        + pickle.SETITEMS), ["posix.system"])
    # Dotted names are attribute paths for Python's protocol-4 find_class: torch-looking, yet os.system.
    hand_written("hostile-odd-module", proto4(op_dict((op_str("state_dict"), op_call(
        op_global("torch.serialization", "os.system"), op_str(touch_command("hostile-odd-module")))))),
        ["torch.serialization.os.system"])
    hand_written("hostile-dotted-name", proto4(op_dict((op_str("state_dict"), op_call(
        op_global("builtins", "eval.__self__.exec"),
        op_str(f"open({marker('hostile-dotted-name')!r}, 'w').close()"))))), ["builtins.eval.__self__.exec"])
    # Memo slot 1 first holds an allow-listed global, then is overwritten with posix.system.
    hand_written("hostile-memo-overwrite", lightning_shell(
        op_global("collections", "OrderedDict") + op_put(1) + pickle.POP
        + op_global("posix", "system") + op_put(1) + pickle.POP
        + op_get(1) + pickle.MARK + op_str(touch_command("hostile-memo-overwrite")) + pickle.TUPLE
        + pickle.REDUCE), ["posix.system"])
    # An unknown-class object, tolerated in hyper_parameters, reused from the memo as a weight.
    smuggled = (op_global("mdlm_evil", "Tensor") + pickle.EMPTY_TUPLE + pickle.NEWOBJ
                + op_dict((op_str("marker"), op_str(marker("hostile-memo-smuggle")))) + pickle.BUILD + op_put(1))
    hand_written("hostile-memo-smuggle", pickle.PROTO + b"\x02" + op_dict(
        (op_str("hyper_parameters"), op_dict((op_str("tokenizer"), smuggled))),
        (op_str("state_dict"), op_dict((op_str("backbone.vocab_embed.embedding"), op_get(1)))),
    ) + pickle.STOP, ["mdlm_evil.Tensor", "state_dict"])
    torch_saved("hostile-state-dict-class", {"state_dict": collections.OrderedDict(
        [("backbone.vocab_embed.embedding", evil_instance(EvilTensor, "hostile-state-dict-class"))])},
        ["mdlm_evil.Tensor", "backbone.vocab_embed.embedding"])
    hand_written("hostile-inst", lightning_shell(
        pickle.MARK + op_str(touch_command("hostile-inst")) + pickle.INST + b"os\nsystem\n"), ["os.system"])
    hand_written("hostile-obj", lightning_shell(
        pickle.MARK + op_global("subprocess", "Popen")
        + pickle.EMPTY_LIST + op_str("touch") + pickle.APPEND + op_str(marker("hostile-obj")) + pickle.APPEND
        + pickle.OBJ), ["subprocess.Popen"])
    # The classic protocol-0 exploit: refused at its first text opcode.
    hand_written("hostile-protocol0", f"cos\nsystem\n(S'{touch_command('hostile-protocol0')}'\ntR.".encode(),
                 ["STRING"], code="corrupt_file")
    # The allow-listed tensor rebuild given a string for a storage.
    hand_written("bad-rebuild-args", lightning_shell(op_call(
        op_global("torch._utils", "_rebuild_tensor_v2"), op_str("not a storage"), pickle.BININT1 + b"\x00",
        pickle.EMPTY_TUPLE, pickle.EMPTY_TUPLE, pickle.NEWFALSE,
        op_call(op_global("collections", "OrderedDict")))), ["_rebuild_tensor_v2", "storage"],
        code="corrupt_file", live=False)
    return cases


def check_live(cases):
    """torch.load (which unpickles with Python's pickle) must run every live payload."""
    shutil.rmtree(MARKER_DIR, ignore_errors=True)
    MARKER_DIR.mkdir(parents=True)
    for case in cases:
        if not case["live"]:
            continue
        try:
            torch.load(OUT / f"{case['stem']}.ckpt")
        except Exception:  # the payload runs before whatever fails after it
            pass
        target = Path(marker(case["stem"]))
        for _ in range(50):  # Popen's touch runs in a child process
            if target.exists():
                break
            time.sleep(0.05)
        if not target.exists():
            raise RuntimeError(f"{case['stem']}: payload did not run under torch.load")
    shutil.rmtree(MARKER_DIR)


def to_json(value):
    """Indented JSON with lists of scalars kept on one line."""
    text = json.dumps(value, indent=1)
    return re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + re.sub(r"\s*\n\s*", " ", m.group(1)) + "]",
                  text) + "\n"


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    expected = {}
    for spec in MAIN:
        backbone, ckpt = build(spec)
        path = save(ckpt, f"{spec['name']}.ckpt")
        expected[path.name] = expected_entry(path, backbone, ckpt, TINY, spec)
    broken = broken_fixtures(expected)
    hostile = hostile_fixtures()
    check_live(hostile)
    for case in hostile:
        stem = case.pop("stem")
        case["file"] = f"{stem}.ckpt"
        case["marker"] = marker(stem) if case.pop("live") else None
    (OUT / "expected.json").write_text(to_json(expected))
    (OUT / "broken.json").write_text(to_json(broken + hostile))
    total = 0
    for path in sorted(OUT.iterdir()):
        total += path.stat().st_size
        print(f"{path.stat().st_size:>8}  {sha256_file(path)[:16]}  {path.name}")
    print(f"{total:>8}  total")


if __name__ == "__main__":
    main()
