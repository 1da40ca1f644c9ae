#!/usr/bin/env python3
"""Writes broken variants of the tiny-v3 fixture into OUT/<case>/ for the
bad-input tests: each case breaks one thing the importer or runtime must
reject with one clear line."""
import json
import os
import shutil
import struct
import sys

src, out = sys.argv[1], sys.argv[2]
config = json.load(open(os.path.join(src, "config.json")))
blob = open(os.path.join(src, "model.safetensors"), "rb").read()
(hlen,) = struct.unpack("<Q", blob[:8])
header = json.loads(blob[8:8 + hlen])
data = blob[8 + hlen:]


def case(name, cfg=None, st=None, raw=None):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    json.dump(cfg if cfg is not None else config, open(os.path.join(d, "config.json"), "w"), indent=1)
    if raw is not None:
        open(os.path.join(d, "model.safetensors"), "wb").write(raw)
    else:
        h = json.dumps(st if st is not None else header).encode()
        h += b" " * (-len(h) % 8)
        open(os.path.join(d, "model.safetensors"), "wb").write(struct.pack("<Q", len(h)) + h + data)


def cfg_with(**changes):
    c = dict(config)
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def header_with(fn):
    h = json.loads(json.dumps(header))
    fn(h)
    return h


case("missing-key", cfg=cfg_with(hidden_size=None))
case("unknown-key", cfg=cfg_with(frobnication_level=3))
case("unknown-arch", cfg=cfg_with(architectures=["LlamaForCausalLM"]))
case("bad-type", cfg=cfg_with(num_hidden_layers="three"))
case("missing-router-key", cfg=cfg_with(topk_method=None))
case("yarn-beta", cfg=cfg_with(rope_parameters=dict(config["rope_parameters"], beta_fast=0)))
case("rope-typo", cfg=cfg_with(rope_parameters=dict(config["rope_parameters"], mscale_al_dim=1.0)))
case("topk-too-large", cfg=cfg_with(num_experts_per_tok=12))
case("scaling-zero", cfg=cfg_with(routed_scaling_factor=0.0))
case("quant-unknown", cfg=cfg_with(quantization_config={"quant_method": "fp8", "fmt": "e4m3", "weight_block_size": [16, 16], "group_size": 4}))
case("missing-tensor", st=header_with(lambda h: h.pop("model.layers.1.self_attn.kv_b_proj.weight")))


def wrong_shape(h):
    h["model.norm.weight"]["shape"] = [32, 2]


case("wrong-shape", st=header_with(wrong_shape))


def wrong_dtype(h):
    t = h["model.norm.weight"]
    t["dtype"] = "I16"


case("wrong-dtype", st=header_with(wrong_dtype))


def overlap(h):
    # model.norm.weight's bytes start inside the embedding table's.
    start = h["model.embed_tokens.weight"]["data_offsets"][0] + 64
    t = h["model.norm.weight"]
    size = t["data_offsets"][1] - t["data_offsets"][0]
    t["data_offsets"] = [start, start + size]


case("overlapping-offsets", st=header_with(overlap))
case("truncated", raw=blob[: len(blob) // 2])
case("header-too-long", raw=struct.pack("<Q", 1 << 40) + blob[8:])
