#!/usr/bin/env python3
"""Independent PyTorch reference for Hugging Face's GPT-2 (GPT2LMHeadModel,
eager attention, fp32), written from the transformers modeling code's
semantics. It creates random checkpoints in HF layout (config.json +
model.safetensors, Conv1D weights stored [in, out]) and records the logits
and the LM loss (labels = input_ids) that the reference computes for them.

    python3 hf_reference.py OUTDIR [SEED]

The Go test loads each OUTDIR/<case>/ with our loader and compares.
Needs only torch and the standard library (Debian: python3-torch).
"""
import json
import math
import os
import struct
import sys

import torch

CASES = [
    # name, layers, heads, width, vocab, positions, n_inner, dtype, prefix, lm_head
    ("l1h1c8", 1, 1, 8, 50, 16, None, "F32", True, False),
    ("l2h4c16", 2, 4, 16, 64, 32, None, "F32", False, True),
    ("l3h3c24i40", 3, 3, 24, 97, 20, 40, "F32", True, False),
    ("l2h2c32f16", 2, 2, 32, 80, 24, None, "F16", True, False),
]


def write_safetensors(path, tensors):
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        t, dt = tensors[name]
        t = t.contiguous()
        if dt == "F16":
            b = t.to(torch.float16).numpy().tobytes()
        else:
            b = t.to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def layer_norm(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps)


def conv1d(x, w, b):  # transformers.pytorch_utils.Conv1D: x @ W + b, W [in, out]
    return torch.addmm(b, x.reshape(-1, x.shape[-1]), w).reshape(*x.shape[:-1], w.shape[1])


def gpt2_forward(p, cfg, ids, attention_mask=None):
    B, T = ids.shape
    nh, C = cfg["n_head"], cfg["n_embd"]
    hs = C // nh
    eps = cfg["layer_norm_epsilon"]
    if attention_mask is None:
        attention_mask = torch.ones(B, T, dtype=torch.long)
    # generate()'s position ids for left padding: cumsum(mask) - 1, pads -> 1
    pos = attention_mask.cumsum(-1) - 1
    pos = pos.masked_fill(attention_mask == 0, 1)
    h = p["wte.weight"][ids] + p["wpe.weight"][pos]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool)).view(1, 1, T, T) & attention_mask.bool().view(B, 1, 1, T)
    for i in range(cfg["n_layer"]):
        q = f"h.{i}."
        a = layer_norm(h, p[q + "ln_1.weight"], p[q + "ln_1.bias"], eps)
        qkv = conv1d(a, p[q + "attn.c_attn.weight"], p[q + "attn.c_attn.bias"])
        qq, kk, vv = qkv.split(C, dim=2)
        sh = lambda t: t.view(B, T, nh, hs).permute(0, 2, 1, 3)
        qq, kk, vv = sh(qq), sh(kk), sh(vv)
        w = torch.matmul(qq, kk.transpose(-1, -2)) / (vv.size(-1) ** 0.5)
        w = torch.where(causal, w, torch.tensor(torch.finfo(w.dtype).min))
        w = torch.softmax(w, dim=-1)
        o = torch.matmul(w, vv).permute(0, 2, 1, 3).reshape(B, T, C)
        o = conv1d(o, p[q + "attn.c_proj.weight"], p[q + "attn.c_proj.bias"])
        h = h + o
        m = layer_norm(h, p[q + "ln_2.weight"], p[q + "ln_2.bias"], eps)
        m = gelu_new(conv1d(m, p[q + "mlp.c_fc.weight"], p[q + "mlp.c_fc.bias"]))
        m = conv1d(m, p[q + "mlp.c_proj.weight"], p[q + "mlp.c_proj.bias"])
        h = h + m
    h = layer_norm(h, p["ln_f.weight"], p["ln_f.bias"], eps)
    return torch.matmul(h, p["wte.weight"].t())  # [B, T, V]


def greedy_left_padded(p, cfg, prompts, new_tokens, pad):
    """generate(do_sample=False) on a left-padded batch, without a cache:
    every step reruns the padded sequences with their attention mask."""
    L = max(len(q) for q in prompts)
    ids = torch.tensor([[pad] * (L - len(q)) + q for q in prompts])
    mask = torch.tensor([[0] * (L - len(q)) + [1] * len(q) for q in prompts])
    for _ in range(new_tokens):
        nxt = gpt2_forward(p, cfg, ids, mask)[:, -1].argmax(-1)
        ids = torch.cat([ids, nxt.view(-1, 1)], dim=1)
        mask = torch.cat([mask, torch.ones(len(prompts), 1, dtype=torch.long)], dim=1)
    return [row[L:].tolist() for row in ids]


def main():
    out = sys.argv[1]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    for name, L, nh, C, V, P, inner, dt, prefix, lm_head in CASES:
        g = torch.Generator().manual_seed(seed * 1000 + len(name))
        I = inner or 4 * C
        cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": L, "n_head": nh,
               "n_embd": C, "n_positions": P, "n_ctx": P, "vocab_size": V, "n_inner": inner,
               "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new",
               "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1, "bos_token_id": V - 1, "eos_token_id": V - 1}
        shapes = {"wte.weight": (V, C), "wpe.weight": (P, C), "ln_f.weight": (C,), "ln_f.bias": (C,)}
        for i in range(L):
            q = f"h.{i}."
            shapes.update({q + "ln_1.weight": (C,), q + "ln_1.bias": (C,), q + "ln_2.weight": (C,), q + "ln_2.bias": (C,),
                           q + "attn.c_attn.weight": (C, 3 * C), q + "attn.c_attn.bias": (3 * C,),
                           q + "attn.c_proj.weight": (C, C), q + "attn.c_proj.bias": (C,),
                           q + "mlp.c_fc.weight": (C, I), q + "mlp.c_fc.bias": (I,),
                           q + "mlp.c_proj.weight": (I, C), q + "mlp.c_proj.bias": (C,)})
        p = {}
        for k, s in sorted(shapes.items()):
            std = 0.5 if "ln_" in k else 0.2
            t = torch.randn(*s, generator=g) * std
            if k.endswith("ln_1.weight") or k.endswith("ln_2.weight") or k == "ln_f.weight":
                t = t + 1.0
            if dt == "F16":
                t = t.to(torch.float16).to(torch.float32)  # the reference sees what the file holds
            p[k] = t
        T = min(P, 12)
        ids = torch.randint(0, V, (1, T), generator=g)
        with torch.no_grad():
            logits = gpt2_forward(p, cfg, ids)[0]
            # Loss as GPT2LMHeadModel computes it with labels = input_ids.
            loss = torch.nn.functional.cross_entropy(logits[:-1], ids[0, 1:])
            prompts = [torch.randint(0, V, (n,), generator=g).tolist() for n in (5, 2, 3)]
            greedy = greedy_left_padded(p, cfg, prompts, 6, V - 1)
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        pre = "transformer." if prefix else ""
        tensors = {pre + k: (v, dt) for k, v in p.items()}
        # Old checkpoints carry the causal-mask buffer; the loader must skip it.
        tensors[pre + "h.0.attn.bias"] = (torch.tril(torch.ones(P, P)).view(1, 1, P, P), "F32")
        if lm_head:
            tensors["lm_head.weight"] = (p["wte.weight"], dt)
        write_safetensors(os.path.join(d, "model.safetensors"), tensors)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1)
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump({"tokens": ids[0].tolist(), "logits": [float(x) for x in logits.flatten()],
                       "loss": float(loss), "prompts": prompts, "greedy": greedy, "torch": torch.__version__}, f)


if __name__ == "__main__":
    main()
