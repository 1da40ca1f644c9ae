#!/usr/bin/env python3
"""An independent float64 NumPy reference of the DeepSeek forward pass.

Written from the model math in DEEPSEEK.md (DeepSeek's own inference code is
the ground truth where references differ), not from dsc's code. Only numpy and
the Python standard library are used, so CI needs no torch.

What it implements:
  * a safetensors reader (single file or sharded with model.safetensors.index.json;
    F64, F32, F16, BF16 and F8_E4M3 with DeepSeek's block `_scale_inv`), which
    skips the MTP layers (layer index >= num_hidden_layers);
  * config.json in both styles (`rope_parameters` + `rope_type`, or legacy
    `rope_scaling` + `type` with a top-level `rope_theta`);
  * embedding, RMSNorm, MLA in its naive (decompressed) form with q_lora or a
    plain q_proj, RoPE on adjacent pairs (rope_interleave true/absent) or
    half-split pairs (false) with YaRN frequencies and the softmax mscale,
    causal softmax, dense SwiGLU MLP, the router (sigmoid or softmax, the
    correction bias for choosing only, the group limit with a -inf mask,
    top-k, normalisation, scaling), routed + shared experts, the final norm and
    the head (lm_head, or the embedding when tie_word_embeddings);
  * greedy decoding that recomputes the whole sequence at every step.

Conventions where DeepSeek's code and transformers differ (see docs/numerics.md):
  * dropped router groups are masked to -inf (DeepSeek); `group_mask=0.0`
    gives the old transformers / hub-code behaviour, for comparison only;
  * normalising divides by the plain sum (no + 1e-20);
  * the softmax scale is (d_n + d_r)^-0.5 * m^2 with
    m = 0.1 * mscale_all_dim * ln(factor) + 1 when YaRN is active (factor > 1)
    and mscale_all_dim is non-zero (transformers' rule; DeepSeek's code uses
    `mscale`, the same value in every published config);
  * cos/sin are not scaled (DeepSeek). transformers scales them by
    mscale(factor, mscale) / mscale(factor, mscale_all_dim), which is 1 when the
    two keys are equal; this reference refuses configs where they differ.
  * top-k ties go to the lowest index; the greedy argmax takes the first maximum.

Command line: validate against a transformers fixture's expected.json:
    numpy_reference.py --fixture test/fixtures/tiny-v3
"""
import argparse
import json
import math
import os
import sys

import numpy as np

# ----------------------------------------------------------------------------
# safetensors


def _e4m3fn_table():
    """float value of each of the 256 e4m3fn bit patterns (NaN for 0x7f/0xff)."""
    t = np.zeros(256, dtype=np.float64)
    for b in range(256):
        sign = -1.0 if b & 0x80 else 1.0
        e = (b >> 3) & 0xF
        m = b & 0x7
        if e == 0xF and m == 0x7:
            t[b] = np.nan
        elif e == 0:
            t[b] = sign * (m / 8.0) * 2.0 ** -6
        else:
            t[b] = sign * (1.0 + m / 8.0) * 2.0 ** (e - 7)
    return t


_E4M3 = _e4m3fn_table()


def _decode(dtype, shape, raw):
    if dtype == "F64":
        a = np.frombuffer(raw, dtype="<f8")
    elif dtype == "F32":
        a = np.frombuffer(raw, dtype="<f4").astype(np.float64)
    elif dtype == "F16":
        a = np.frombuffer(raw, dtype="<f2").astype(np.float64)
    elif dtype == "BF16":
        u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        a = u.view(np.float32).astype(np.float64)
    elif dtype == "F8_E4M3":
        a = _E4M3[np.frombuffer(raw, dtype=np.uint8)]
    else:
        raise ValueError(f"unsupported safetensors dtype {dtype}")
    return a.reshape(shape)


def read_safetensors(path):
    """{name: (dtype, float64 array)} of one safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = np.frombuffer(blob[:8], dtype="<u8")
    header = json.loads(blob[8:8 + int(n)].decode("utf-8"))
    base = 8 + int(n)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = (info["dtype"], _decode(info["dtype"], info["shape"], blob[base + b:base + e]))
    return out


def checkpoint_files(d):
    index = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(index):
        return sorted(set(json.load(open(index))["weight_map"].values()))
    return sorted(f for f in os.listdir(d) if f.endswith(".safetensors"))


# ----------------------------------------------------------------------------
# config


class Config:
    def __init__(self, raw):
        self.raw = raw
        g = raw.get
        self.arch = raw["architectures"][0]
        v3 = self.arch == "DeepseekV3ForCausalLM"
        self.vocab = g("vocab_size")
        self.D = g("hidden_size")
        self.inter = g("intermediate_size")
        self.moe_inter = g("moe_intermediate_size")
        self.L = g("num_hidden_layers")
        self.H = g("num_attention_heads")
        self.q_lora = g("q_lora_rank")
        self.C = g("kv_lora_rank")
        self.dn = g("qk_nope_head_dim")
        self.dr = g("qk_rope_head_dim")
        self.dv = g("v_head_dim")
        self.E = g("n_routed_experts") or 0
        self.n_shared = g("n_shared_experts") or 0
        self.topk = g("num_experts_per_tok")
        self.n_group = g("n_group", 1) or 1
        self.topk_group = g("topk_group", 1) or 1
        self.rsf = g("routed_scaling_factor", 1.0)
        # DeepseekV3 configs without the key score with a sigmoid, V2 with a softmax
        self.scoring = g("scoring_func", "sigmoid" if v3 else "softmax")
        self.topk_method = g("topk_method", "noaux_tc" if v3 else "greedy")
        self.norm_topk = g("norm_topk_prob", v3)
        self.first_dense = g("first_k_dense_replace", 0)
        self.moe_freq = g("moe_layer_freq", 1) or 1
        self.eps = g("rms_norm_eps", 1e-6)
        self.interleave = g("rope_interleave", True)
        self.tie = g("tie_word_embeddings", False)
        rope = g("rope_parameters") or g("rope_scaling")
        self.theta = g("rope_theta", 10000.0)
        self.yarn = None
        if rope:
            self.theta = rope.get("rope_theta", self.theta)
            kind = rope.get("rope_type", rope.get("type", "default"))
            if kind == "yarn":
                self.yarn = dict(factor=float(rope["factor"]),
                                 orig=rope["original_max_position_embeddings"],
                                 beta_fast=rope.get("beta_fast", 32),
                                 beta_slow=rope.get("beta_slow", 1),
                                 mscale=rope.get("mscale", 1.0),
                                 mscale_all_dim=rope.get("mscale_all_dim", 0.0))
                if self.yarn["factor"] > 1 and self.yarn["mscale"] != self.yarn["mscale_all_dim"]:
                    raise ValueError("mscale != mscale_all_dim: DeepSeek and transformers "
                                     "differ on the cos/sin scale; not modelled here")
            elif kind != "default":
                raise ValueError(f"rope type {kind}")
        q = g("quantization_config")
        self.fp8_block = tuple(q.get("weight_block_size", [128, 128])) if q else None

    def is_moe(self, i):
        # DeepSeek's modeling code: layer_idx >= first_k_dense_replace and
        # layer_idx % moe_layer_freq == 0
        return self.E > 0 and i >= self.first_dense and i % self.moe_freq == 0

    def inv_freq(self):
        d, base = self.dr, self.theta
        f = 1.0 / base ** (np.arange(0, d, 2, dtype=np.float64) / d)
        if self.yarn is None:
            return f
        y = self.yarn

        def corr_dim(r):
            return d * math.log(y["orig"] / (r * 2 * math.pi)) / (2 * math.log(base))

        low = max(math.floor(corr_dim(y["beta_fast"])), 0)
        high = min(math.ceil(corr_dim(y["beta_slow"])), d - 1)
        if low == high:
            high += 0.001
        ramp = np.clip((np.arange(d // 2, dtype=np.float64) - low) / (high - low), 0, 1)
        smooth = 1 - ramp
        return f / y["factor"] * (1 - smooth) + f * smooth

    def softmax_scale(self):
        s = (self.dn + self.dr) ** -0.5
        y = self.yarn
        if y is not None and y["factor"] > 1 and y["mscale_all_dim"]:
            m = 0.1 * y["mscale_all_dim"] * math.log(y["factor"]) + 1.0
            s *= m * m
        return s


# ----------------------------------------------------------------------------
# model


class Model:
    def __init__(self, ckpt_dir, group_mask=-np.inf):
        self.dir = ckpt_dir
        self.cfg = Config(json.load(open(os.path.join(ckpt_dir, "config.json"))))
        self.group_mask = group_mask
        raw = {}
        self.dtypes = {}
        for f in checkpoint_files(ckpt_dir):
            for name, (dt, a) in read_safetensors(os.path.join(ckpt_dir, f)).items():
                raw[name] = a
                self.dtypes[name] = dt
        self.w = {}
        for name, a in raw.items():
            if name.endswith("_scale_inv"):
                continue
            parts = name.split(".")
            if len(parts) > 2 and parts[1] == "layers" and int(parts[2]) >= self.cfg.L:
                continue  # MTP layer
            if self.dtypes[name] == "F8_E4M3":
                s = raw[name + "_scale_inv"]
                br, bc = self.cfg.fp8_block
                a = a * np.repeat(np.repeat(s, br, 0), bc, 1)[:a.shape[0], :a.shape[1]]
            self.w[name] = a
        self.inv_freq = self.cfg.inv_freq()
        self.scale = self.cfg.softmax_scale()
        self.router_log = []  # per router call: dict of diagnostics

    # -- pieces ---------------------------------------------------------------
    def W(self, name):
        return self.w[name]

    def rms(self, x, name):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.cfg.eps) * self.W(name)

    @staticmethod
    def silu(x):
        return x / (1 + np.exp(-x))

    def swiglu(self, x, p):
        g = x @ self.W(p + "gate_proj.weight").T
        u = x @ self.W(p + "up_proj.weight").T
        return (self.silu(g) * u) @ self.W(p + "down_proj.weight").T

    def rope(self, x, pos):
        """x [T, ..., d_r], pos [T]."""
        ang = pos[:, None] * self.inv_freq[None, :]  # [T, d_r/2]
        shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (ang.shape[1],)
        cos, sin = np.cos(ang).reshape(shape), np.sin(ang).reshape(shape)
        h = self.cfg.dr // 2
        if self.cfg.interleave:
            a, b = x[..., 0::2], x[..., 1::2]
        else:
            a, b = x[..., :h], x[..., h:]
        ra, rb = a * cos - b * sin, b * cos + a * sin
        out = np.empty_like(x)
        if self.cfg.interleave:
            out[..., 0::2], out[..., 1::2] = ra, rb
        else:
            out[..., :h], out[..., h:] = ra, rb
        return out

    def attention(self, x, p):
        c = self.cfg
        T = x.shape[0]
        pos = np.arange(T, dtype=np.float64)
        if c.q_lora:
            q = self.rms(x @ self.W(p + "q_a_proj.weight").T, p + "q_a_layernorm.weight")
            q = q @ self.W(p + "q_b_proj.weight").T
        else:
            q = x @ self.W(p + "q_proj.weight").T
        q = q.reshape(T, c.H, c.dn + c.dr)
        q_nope, q_pe = q[..., :c.dn], self.rope(q[..., c.dn:], pos)
        kv = x @ self.W(p + "kv_a_proj_with_mqa.weight").T
        c_n = self.rms(kv[:, :c.C], p + "kv_a_layernorm.weight")
        k_pe = self.rope(kv[:, c.C:], pos)  # one head shared by all heads
        wkv = self.W(p + "kv_b_proj.weight").reshape(c.H, c.dn + c.dv, c.C)
        k_nope = np.einsum("tc,hdc->thd", c_n, wkv[:, :c.dn])
        v = np.einsum("tc,hdc->thd", c_n, wkv[:, c.dn:])
        s = (np.einsum("thd,shd->hts", q_nope, k_nope)
             + np.einsum("thd,sd->hts", q_pe, k_pe)) * self.scale
        s = np.where(np.tril(np.ones((T, T), dtype=bool))[None], s, -np.inf)
        s = np.exp(s - s.max(-1, keepdims=True))
        prob = s / s.sum(-1, keepdims=True)
        o = np.einsum("hts,shd->thd", prob, v).reshape(T, c.H * c.dv)
        return o @ self.W(p + "o_proj.weight").T

    def route(self, x, p, layer):
        """Returns (indices [T, k], weights [T, k])."""
        c = self.cfg
        logits = x @ self.W(p + "gate.weight").T
        if c.scoring == "sigmoid":
            scores = 1 / (1 + np.exp(-logits))
        else:
            e = np.exp(logits - logits.max(-1, keepdims=True))
            scores = e / e.sum(-1, keepdims=True)
        bias_name = p + "gate.e_score_correction_bias"
        sel = scores + self.W(bias_name) if bias_name in self.w else scores.copy()
        T, E = sel.shape
        idx = np.zeros((T, c.topk), dtype=np.int64)
        for t in range(T):
            st = sel[t].copy()
            log = {"layer": layer}
            grouped = c.n_group > 1 and c.topk_method in ("group_limited_greedy", "noaux_tc")
            if grouped:
                g = st.reshape(c.n_group, E // c.n_group)
                if bias_name in self.w:  # noaux_tc: sum of the top-2 per group
                    gs = np.sort(g, axis=1)[:, ::-1][:, :2].sum(1)
                else:  # group_limited_greedy: max per group
                    gs = g.max(1)
                order = np.argsort(-gs, kind="stable")
                keep = order[:c.topk_group]
                log["group_margin"] = float(gs[order[c.topk_group - 1]] - gs[order[c.topk_group]])
                kept = np.zeros(c.n_group, dtype=bool)
                kept[keep] = True
                emask = np.repeat(kept, E // c.n_group)
                log["min_kept_sel"] = float(st[emask].min())
                free = np.argsort(-st, kind="stable")[:c.topk]
                alt = np.where(emask, st, 0.0)
                log["pick_mask0"] = np.sort(np.argsort(-alt, kind="stable")[:c.topk])
                st = np.where(emask, st, self.group_mask)
            order = np.argsort(-st, kind="stable")
            idx[t] = order[:c.topk]
            log["topk_margin"] = float(st[order[c.topk - 1]] - st[order[c.topk]])
            log["pick"] = np.sort(idx[t])
            if grouped:
                log["pick_ungrouped"] = np.sort(free)
            self.router_log.append(log)
        w = np.take_along_axis(scores, idx, 1)
        if c.norm_topk:
            w = w / w.sum(-1, keepdims=True)
        return idx, w * c.rsf

    def moe(self, x, p, layer):
        c = self.cfg
        idx, w = self.route(x, p, layer)
        y = np.zeros_like(x)
        for t in range(x.shape[0]):
            for k in range(c.topk):
                y[t] += w[t, k] * self.swiglu(x[t:t + 1], f"{p}experts.{idx[t, k]}.")[0]
        if c.n_shared:
            y += self.swiglu(x, p + "shared_experts.")
        return y

    # -- whole model -------------------------------------------------------
    def forward(self, tokens):
        """Logits [T, vocab] for the token list."""
        c = self.cfg
        x = self.W("model.embed_tokens.weight")[np.asarray(tokens)]
        for i in range(c.L):
            p = f"model.layers.{i}."
            x = x + self.attention(self.rms(x, p + "input_layernorm.weight"), p + "self_attn.")
            hn = self.rms(x, p + "post_attention_layernorm.weight")
            x = x + (self.moe(hn, p + "mlp.", i) if c.is_moe(i) else self.swiglu(hn, p + "mlp."))
        x = self.rms(x, "model.norm.weight")
        head = self.W("model.embed_tokens.weight") if c.tie else self.W("lm_head.weight")
        return x @ head.T

    def greedy(self, prompt, n_new):
        """(generated tokens, prefill logits at the last prompt position, top1-top2 margins)."""
        seq = list(prompt)
        out, margins, prefill = [], [], None
        for step in range(n_new):
            logits = self.forward(seq)[-1]
            if prefill is None:
                prefill = logits
            tok = int(np.argmax(logits))
            srt = np.sort(logits)
            margins.append(float(srt[-1] - srt[-2]))
            out.append(tok)
            seq.append(tok)
        if prefill is None:
            prefill = self.forward(seq)[-1]
        return out, prefill, margins


def router_summary(log):
    """Smallest routing margins over a router log (for knife-edge checks)."""
    s = {"router_calls": len(log)}
    if log:
        s["min_topk_margin"] = min(l["topk_margin"] for l in log)
        gm = [l["group_margin"] for l in log if "group_margin" in l]
        if gm:
            s["min_group_margin"] = min(gm)
            s["min_kept_selection_score"] = min(l["min_kept_sel"] for l in log)
            s["calls_where_mask0_differs"] = sum(
                1 for l in log if not np.array_equal(l["pick"], l["pick_mask0"]))
            s["calls_where_group_limit_matters"] = sum(
                1 for l in log if not np.array_equal(l["pick"], l["pick_ungrouped"]))
    return s


# ----------------------------------------------------------------------------
# validation against a transformers fixture


def validate_fixture(fixture, tol):
    exp = json.load(open(os.path.join(fixture, "expected.json")))
    m = Model(fixture)
    ok = True
    inv = m.inv_freq
    want_inv = np.asarray(exp["derived"]["rope_inv_freq"])
    if not np.allclose(inv, want_inv, rtol=1e-6):
        print(f"inv_freq {inv} != {want_inv}")
        ok = False
    if abs(m.scale - exp["derived"]["softmax_scale"]) > 1e-9:
        print(f"softmax scale {m.scale} != {exp['derived']['softmax_scale']}")
        ok = False
    for i, r in enumerate(exp["results"]):
        gen, prefill, _ = m.greedy(r["prompt"], len(r["greedy"]))
        want = np.asarray(r["prefill_logits"])
        rel = float(np.max(np.abs(prefill - want)) / np.max(np.abs(want)))
        same = gen == r["greedy"]
        line = f"prompt {i} (len {len(r['prompt'])}): prefill max rel err {rel:.3e}"
        if "all_logits" in r:
            full = m.forward(r["prompt"])
            allw = np.asarray(r["all_logits"])
            arel = float(np.max(np.abs(full - allw)) / np.max(np.abs(allw)))
            line += f", all positions {arel:.3e}"
            ok &= arel <= tol
        if "greedy_step_logits" in r:
            seq = list(r["prompt"])
            srel = 0.0
            for k, row in enumerate(r["greedy_step_logits"]):
                lg = m.forward(seq)[-1]
                row = np.asarray(row)
                srel = max(srel, float(np.max(np.abs(lg - row)) / np.max(np.abs(row))))
                seq.append(r["greedy"][k])
            line += f", greedy steps {srel:.3e}"
            ok &= srel <= tol
        line += f", greedy {'identical' if same else 'DIFFERENT'}"
        print(line)
        if not same:
            print(f"  numpy: {gen}\n  ref:   {r['greedy']}")
        ok &= same and rel <= tol
    print("router:", json.dumps(router_summary(m.router_log)))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixture", action="append", required=True,
                    help="fixture directory with expected.json (repeatable)")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()
    ok = True
    for f in args.fixture:
        print(f"== {os.path.basename(os.path.normpath(f))}")
        ok &= validate_fixture(f, args.tolerance)
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
