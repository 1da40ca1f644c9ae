#!/usr/bin/env python3
"""Writes a tiny synthetic DeepSeek checkpoint for one model variant that the
transformers-made fixtures (test/fixtures) do not cover.

The checkpoint directory holds a config.json with the key set of the fixtures
(test/fixtures/tiny-v3 for DeepseekV3ForCausalLM, tiny-v2-lite for
DeepseekV2ForCausalLM) and one model.safetensors written by hand with numpy
(8-byte little-endian header length, JSON header, raw data), one tensor per
expert and projection as in DeepSeek's published checkpoints. Weights are
random from the given seed, with the fixtures' dimensions and initialisation
(normal std 0.2 for embeddings and linears, 0.1 for the router, RMSNorm weights
U(0.9, 1.1), e_score_correction_bias U(-0.05, 0.05)). Deterministic for a seed.

    make_variant.py --variant rope-half-split --out /tmp/ckpt [--seed N]
    make_variant.py --list
"""
import argparse
import json
import os
import sys

import numpy as np

# Base configurations: the key sets of test/fixtures/tiny-v3/config.json and
# tiny-v2-lite/config.json (transformers 5.24 style, `rope_parameters`).
V3_BASE = {
    "architectures": ["DeepseekV3ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 0,
    "dtype": "bfloat16",
    "eos_token_id": 1,
    "first_k_dense_replace": 1,
    "head_dim": 8,
    "hidden_act": "silu",
    "hidden_size": 64,
    "initializer_range": 0.02,
    "intermediate_size": 128,
    "kv_lora_rank": 32,
    "max_position_embeddings": 128,
    "model_type": "deepseek_v3",
    "moe_intermediate_size": 32,
    "n_group": 4,
    "n_routed_experts": 16,
    "n_shared_experts": 1,
    "norm_topk_prob": True,
    "num_attention_heads": 4,
    "num_experts_per_tok": 4,
    "num_hidden_layers": 3,
    "num_key_value_heads": 4,
    "num_nextn_predict_layers": 0,
    "output_router_logits": False,
    "pad_token_id": None,
    "pretraining_tp": 1,
    "q_lora_rank": 32,
    "qk_head_dim": 24,
    "qk_nope_head_dim": 16,
    "qk_rope_head_dim": 8,
    "rms_norm_eps": 1e-06,
    "rope_interleave": True,
    "rope_parameters": {
        "beta_fast": 32,
        "beta_slow": 1,
        "factor": 4.0,
        "mscale": 1.0,
        "mscale_all_dim": 1.0,
        "original_max_position_embeddings": 32,
        "rope_theta": 10000.0,
        "rope_type": "yarn",
    },
    "routed_scaling_factor": 2.5,
    "scoring_func": "sigmoid",
    "tie_word_embeddings": False,
    "topk_group": 2,
    "topk_method": "noaux_tc",
    "transformers_version": "5.24.0",
    "use_cache": True,
    "v_head_dim": 16,
    "vocab_size": 256,
}

V2_BASE = {
    "architectures": ["DeepseekV2ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "dtype": "bfloat16",
    "eos_token_id": 2,
    "first_k_dense_replace": 1,
    "head_dim": 8,
    "hidden_act": "silu",
    "hidden_size": 64,
    "initializer_range": 0.02,
    "intermediate_size": 128,
    "kv_lora_rank": 32,
    "max_position_embeddings": 2048,
    "mlp_bias": False,
    "model_type": "deepseek_v2",
    "moe_intermediate_size": 32,
    "n_group": 1,
    "n_routed_experts": 16,
    "n_shared_experts": 2,
    "norm_topk_prob": False,
    "num_attention_heads": 4,
    "num_experts_per_tok": 4,
    "num_hidden_layers": 3,
    "num_key_value_heads": 4,
    "output_router_logits": False,
    "pad_token_id": None,
    "pretraining_tp": 1,
    "q_lora_rank": None,
    "qk_head_dim": 24,
    "qk_nope_head_dim": 16,
    "qk_rope_head_dim": 8,
    "rms_norm_eps": 1e-06,
    "rope_parameters": {
        "beta_fast": 32,
        "beta_slow": 1,
        "factor": 4.0,
        "mscale": 0.707,
        "mscale_all_dim": 0.707,
        "original_max_position_embeddings": 512,
        "rope_theta": 10000.0,
        "rope_type": "yarn",
    },
    "routed_scaling_factor": 1.0,
    "scoring_func": "softmax",
    "tie_word_embeddings": False,
    "topk_group": 1,
    "topk_method": "greedy",
    "transformers_version": "5.24.0",
    "use_cache": True,
    "v_head_dim": 16,
    "vocab_size": 256,
}


def _bias_negative_groups(rng, E, n_group):
    """noaux-negative-bias: -0.9 on every expert of the last group and on most
    experts of the others (all but 2, 1, 1 of groups 0, 1, 2), small biases
    U(-0.05, 0.05) elsewhere. Only those 4 experts have a biased sigmoid score
    that is sure to be positive (the others need a sigmoid score above 0.9),
    and the two kept groups hold at most 3 of them, so top-4 often has to take
    a negative score from a kept group; a dropped group masked to 0.0 would
    beat it, masked to -inf it never does. With the router std 0.3 the picture
    varies per token."""
    per = E // n_group
    b = np.full(E, -0.9) + rng.uniform(-0.05, 0.05, E)
    for g, good in enumerate([2, 1, 1, 0][:n_group]):
        b[g * per:g * per + good] = rng.uniform(-0.05, 0.05, good)
    return b


# name -> (description, base, config overrides, extra options)
VARIANTS = {
    "group-limited-greedy": (
        "DeepseekV2ForCausalLM, softmax scores, topk_method group_limited_greedy: group score "
        "= max, keep topk_group 2 of n_group 4 groups, others masked; q_lora (V2 style); "
        "norm_topk_prob false, routed_scaling_factor 2.0",
        V2_BASE,
        {"topk_method": "group_limited_greedy", "n_group": 4, "topk_group": 2,
         "q_lora_rank": 32, "routed_scaling_factor": 2.0},
        {}),
    "noaux-negative-bias": (
        "DeepseekV3ForCausalLM, noaux_tc router with e_score_correction_bias -0.9 on most "
        "experts, so kept groups hold negative biased scores: masking the dropped groups with "
        "-inf (DeepSeek) and 0.0 (old transformers / hub code) pick different experts",
        V3_BASE,
        {},
        {"bias": _bias_negative_groups, "gate_std": 0.3}),
    "rope-half-split": (
        "DeepseekV3ForCausalLM with rope_interleave false: RoPE rotates the half-split pairs "
        "(x[i], x[i+d/2]); rope_theta 100 so that the YaRN ramp has a fractional entry",
        V3_BASE,
        {"rope_interleave": False,
         "rope_parameters": dict(V3_BASE["rope_parameters"], rope_theta=100.0)},
        {}),
    "tied-embeddings": (
        "DeepseekV3ForCausalLM with tie_word_embeddings true: no lm_head.weight, the head is "
        "model.embed_tokens.weight",
        V3_BASE,
        {"tie_word_embeddings": True},
        {}),
    "moe-layer-freq": (
        "DeepseekV3ForCausalLM, 4 layers, first_k_dense_replace 1, moe_layer_freq 2: layers "
        "0, 1, 3 dense, layer 2 MoE (i >= first_k_dense_replace and i % moe_layer_freq == 0)",
        V3_BASE,
        {"num_hidden_layers": 4, "moe_layer_freq": 2},
        {}),
    "dense": (
        "DeepseekV3ForCausalLM with every layer dense (first_k_dense_replace = "
        "num_hidden_layers): without a router, a small perturbation of the hidden states "
        "(a bf16 KV cache) moves the logits smoothly instead of switching experts",
        V3_BASE,
        {"first_k_dense_replace": V3_BASE["num_hidden_layers"]},
        {}),
    "v3-attention-widths": (
        "DeepseekV3ForCausalLM, every layer dense, with DeepSeek-V3's attention widths: "
        "kv_lora_rank 512, qk_rope_head_dim 64, qk_nope_head_dim 128, v_head_dim 128, "
        "8 heads, 2 layers: the kernel library's MLA decode and prefill at V3's widths "
        "(sm_90a's wgmma ones among them) run in a whole model, small enough to travel "
        "with the GPU check; kv_b_proj and o_proj drawn with std 0.2 * sqrt(32 / fan-in), "
        "keeping their outputs the size of tiny-v3's",
        V3_BASE,
        {"num_hidden_layers": 2, "first_k_dense_replace": 2, "kv_lora_rank": 512,
         "qk_rope_head_dim": 64, "qk_nope_head_dim": 128, "v_head_dim": 128,
         "qk_head_dim": 192, "head_dim": 64, "num_attention_heads": 8,
         "num_key_value_heads": 8},
        {"std": {"kv_b_proj": 0.2 * (32 / 512) ** 0.5, "o_proj": 0.2 * (32 / 1024) ** 0.5}}),
    "odd-widths": (
        "DeepseekV3ForCausalLM whose widths are not multiples of 8 (hidden 60, MLP 100, "
        "experts 36, q_lora 36, kv_lora 28): the CPU's vectorized contractions take their "
        "masked edges",
        V3_BASE,
        {"hidden_size": 60, "intermediate_size": 100, "moe_intermediate_size": 36,
         "q_lora_rank": 36, "kv_lora_rank": 28},
        {}),
    "wide-experts": (
        "DeepseekV3ForCausalLM with moe_intermediate_size 128: each expert matrix (128 x 64 "
        "bf16) is 4 pages, stored apart from its stack's other experts (name order, gate, up "
        "and down together), so that the CPU runtime maps their pages back to back",
        V3_BASE,
        {"moe_intermediate_size": 128},
        {}),
    "f16": (
        "DeepseekV3ForCausalLM stored in F16 (e_score_correction_bias F32)",
        V3_BASE,
        {"dtype": "float16"},
        {"storage": "F16"}),
    "f32": (
        "DeepseekV2ForCausalLM (V2-Lite-like: softmax greedy router, plain q_proj) stored in F32",
        V2_BASE,
        {"dtype": "float32"},
        {"storage": "F32"}),
}


def _to_bf16_bytes(a):
    """float -> bfloat16 bytes, round to nearest even."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return r.astype("<u2").tobytes()


def _encode(a, dtype):
    if dtype == "BF16":
        return _to_bf16_bytes(a)
    if dtype == "F16":
        return np.ascontiguousarray(a, dtype="<f2").tobytes()
    if dtype == "F32":
        return np.ascontiguousarray(a, dtype="<f4").tobytes()
    raise ValueError(dtype)


def write_safetensors(path, tensors):
    """tensors: list of (name, array, dtype)."""
    header, blobs, off = {}, [], 0
    for name, a, dt in tensors:
        b = _encode(a, dt)
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)


def build(name, seed=0):
    """(config dict, [(tensor name, float32 array, dtype)])."""
    desc, base, over, opts = VARIANTS[name]
    cfg = json.loads(json.dumps(base))
    cfg.update(json.loads(json.dumps(over)))
    storage = opts.get("storage", "BF16")
    rng = np.random.default_rng(seed)
    D, V, H = cfg["hidden_size"], cfg["vocab_size"], cfg["num_attention_heads"]
    dn, dr, dv, C = (cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"],
                     cfg["kv_lora_rank"])
    E, I, MI = cfg["n_routed_experts"], cfg["intermediate_size"], cfg["moe_intermediate_size"]
    v3 = cfg["architectures"][0] == "DeepseekV3ForCausalLM"
    freq = cfg.get("moe_layer_freq", 1)
    out = []

    def lin(n, o, i, std=0.2):
        # A variant may scale a projection down (its "std" option, by the
        # weight's last name part) to keep its outputs the fixtures' size.
        std = opts.get("std", {}).get(n.split(".")[-2], std)
        out.append((n, rng.normal(0, std, (o, i)).astype(np.float32), storage))

    def norm(n, d):
        out.append((n, rng.uniform(0.9, 1.1, d).astype(np.float32), storage))

    out.append(("model.embed_tokens.weight", rng.normal(0, 0.2, (V, D)).astype(np.float32), storage))
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        norm(p + "input_layernorm.weight", D)
        norm(p + "post_attention_layernorm.weight", D)
        a = p + "self_attn."
        if cfg["q_lora_rank"]:
            lin(a + "q_a_proj.weight", cfg["q_lora_rank"], D)
            norm(a + "q_a_layernorm.weight", cfg["q_lora_rank"])
            lin(a + "q_b_proj.weight", H * (dn + dr), cfg["q_lora_rank"])
        else:
            lin(a + "q_proj.weight", H * (dn + dr), D)
        lin(a + "kv_a_proj_with_mqa.weight", C + dr, D)
        norm(a + "kv_a_layernorm.weight", C)
        lin(a + "kv_b_proj.weight", H * (dn + dv), C)
        lin(a + "o_proj.weight", D, H * dv)
        m = p + "mlp."
        if E and i >= cfg["first_k_dense_replace"] and i % freq == 0:
            lin(m + "gate.weight", E, D, std=opts.get("gate_std", 0.1))
            if v3:
                bias = opts.get("bias", lambda r, e, g: r.uniform(-0.05, 0.05, e))(
                    rng, E, cfg["n_group"])
                out.append((m + "gate.e_score_correction_bias", bias.astype(np.float32), "F32"))
            for j in range(E):
                lin(f"{m}experts.{j}.gate_proj.weight", MI, D)
                lin(f"{m}experts.{j}.up_proj.weight", MI, D)
                lin(f"{m}experts.{j}.down_proj.weight", D, MI)
            S = cfg["n_shared_experts"] * MI
            if S:
                lin(m + "shared_experts.gate_proj.weight", S, D)
                lin(m + "shared_experts.up_proj.weight", S, D)
                lin(m + "shared_experts.down_proj.weight", D, S)
        else:
            lin(m + "gate_proj.weight", I, D)
            lin(m + "up_proj.weight", I, D)
            lin(m + "down_proj.weight", D, I)
    norm("model.norm.weight", D)
    if not cfg["tie_word_embeddings"]:
        lin("lm_head.weight", V, D)
    return cfg, out


def make(name, out_dir, seed=0):
    cfg, tensors = build(name, seed)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    write_safetensors(os.path.join(out_dir, "model.safetensors"), tensors)
    return cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", choices=sorted(VARIANTS))
    ap.add_argument("--out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    if args.list or not args.variant:
        for k, v in VARIANTS.items():
            print(f"{k}: {v[0]}")
        return
    if not args.out:
        sys.exit("--out is required")
    make(args.variant, args.out, args.seed)


if __name__ == "__main__":
    main()
