#!/usr/bin/env python3
"""Independent PyTorch reference for Hugging Face's RoBERTa (RobertaModel,
RobertaForSequenceClassification, RobertaForMaskedLM; eager attention,
fp32), written from the semantics of transformers' modeling_roberta.py:

- embeddings: word + token_type (zeros when not given) + position, where
  position ids come from create_position_ids_from_input_ids
  (cumsum of input_ids != padding_idx, times that mask, plus padding_idx),
  then LayerNorm (layer_norm_eps);
- the extended attention mask (1 - mask) * finfo(float32).min added to the
  scaled scores of every head;
- post-LayerNorm blocks: LN(dense(attn) + x), LN(dense(act(dense(h1))) + h1),
  act = hidden_act (exact erf GELU for "gelu", the tanh form for gelu_new);
- RobertaClassificationHead: x[:, 0] -> dense -> tanh -> out_proj; the loss
  is CrossEntropyLoss (single_label_classification) or MSELoss on
  logits.squeeze() (regression);
- RobertaLMHead: dense -> exact gelu -> layer_norm -> x @ word_embeddings^T +
  lm_head.bias; the loss is CrossEntropyLoss with -100 on padding.

It writes random checkpoints in Hugging Face layout (config.json +
model.safetensors) with right-padded batches of different lengths, and the
outputs the reference computes for them:

    python3 hf_reference.py OUTDIR [SEED]

The Go test (hf_reference_test.go) loads each OUTDIR/<case>/ with our loader
and compares. Needs only torch and the standard library (Debian:
python3-torch).
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

# name, head, layers, heads, width, inner, vocab, positions, type_vocab, dtype, prefix, extras
CASES = [
    ("cls_l2h4c16", "classifier", 2, 4, 16, 40, 60, 20, 1, "F32", True,
     {"num_labels": 3, "lengths": [7, 4, 9], "position_ids_buffer": True, "eps": 1e-5}),
    ("reg_l1h2c8", "regression", 1, 2, 8, 24, 40, 16, 1, "F32", True,
     {"lengths": [5, 3], "classifier_dropout": 0.0, "eps": 1e-5}),
    ("mlm_l2h2c24f16", "mlm", 2, 2, 24, 48, 50, 18, 1, "F16", True,
     {"lengths": [8, 6, 10], "mid_pad": True, "tied_copy": True, "eps": 1e-5}),
    ("base_l3h3c12", "none", 3, 3, 12, 30, 45, 24, 2, "F32", False,
     {"lengths": [11, 6, 2, 9], "pooler": True, "act": "gelu_new", "eps": 1e-12}),
]

PAD, BOS, EOS = 1, 0, 2


def write_safetensors(path, tensors):
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        t, dt = tensors[name]
        t = t.contiguous()
        if dt == "F16":
            b = t.to(torch.float16).numpy().tobytes()
        elif dt == "I64":
            b = t.to(torch.int64).numpy().tobytes()
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


def act_fn(name):
    if name == "gelu":
        return lambda x: F.gelu(x)  # exact, erf-based
    return lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def linear(x, p, name):
    return F.linear(x, p[name + ".weight"], p[name + ".bias"])


def position_ids(ids, pad):
    mask = ids.ne(pad).int()
    incremental = torch.cumsum(mask, dim=1).type_as(mask) * mask
    return incremental.long() + pad


def encoder(p, cfg, ids, attn_mask):
    B, T = ids.shape
    C, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    hs = C // nh
    eps = cfg["layer_norm_eps"]
    act = act_fn(cfg["hidden_act"])
    e = "embeddings."
    tt = torch.zeros_like(ids)
    h = p[e + "word_embeddings.weight"][ids] + p[e + "token_type_embeddings.weight"][tt]
    h = h + p[e + "position_embeddings.weight"][position_ids(ids, cfg["pad_token_id"])]
    h = F.layer_norm(h, (C,), p[e + "LayerNorm.weight"], p[e + "LayerNorm.bias"], eps)
    ext = (1.0 - attn_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
    for i in range(cfg["num_hidden_layers"]):
        q = f"encoder.layer.{i}."
        split = lambda t: t.view(B, T, nh, hs).permute(0, 2, 1, 3)
        qq = split(linear(h, p, q + "attention.self.query"))
        kk = split(linear(h, p, q + "attention.self.key"))
        vv = split(linear(h, p, q + "attention.self.value"))
        scores = torch.matmul(qq, kk.transpose(-1, -2)) / math.sqrt(hs) + ext
        probs = torch.softmax(scores, dim=-1)
        ctx = torch.matmul(probs, vv).permute(0, 2, 1, 3).reshape(B, T, C)
        a = linear(ctx, p, q + "attention.output.dense")
        h1 = F.layer_norm(a + h, (C,), p[q + "attention.output.LayerNorm.weight"], p[q + "attention.output.LayerNorm.bias"], eps)
        m = act(linear(h1, p, q + "intermediate.dense"))
        o = linear(m, p, q + "output.dense")
        h = F.layer_norm(o + h1, (C,), p[q + "output.LayerNorm.weight"], p[q + "output.LayerNorm.bias"], eps)
    return h


def main():
    out = sys.argv[1]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    for name, head, L, nh, C, I, V, P, TV, dt, prefix, ex in CASES:
        g = torch.Generator().manual_seed(seed * 1000 + len(name) * 7 + L)
        cfg = {"model_type": "roberta", "vocab_size": V, "hidden_size": C, "num_hidden_layers": L,
               "num_attention_heads": nh, "intermediate_size": I, "hidden_act": ex.get("act", "gelu"),
               "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "max_position_embeddings": P,
               "type_vocab_size": TV, "initializer_range": 0.02, "layer_norm_eps": ex["eps"],
               "pad_token_id": PAD, "bos_token_id": BOS, "eos_token_id": EOS, "position_embedding_type": "absolute"}
        if head in ("classifier", "regression"):
            cfg["architectures"] = ["RobertaForSequenceClassification"]
            if head == "regression":
                cfg["id2label"], cfg["label2id"], cfg["problem_type"] = {"0": "LABEL_0"}, {"LABEL_0": 0}, "regression"
            else:
                n = ex["num_labels"]
                cfg["id2label"] = {str(i): f"class_{i}" for i in range(n)}
                cfg["label2id"] = {f"class_{i}": i for i in range(n)}
            if "classifier_dropout" in ex:
                cfg["classifier_dropout"] = ex["classifier_dropout"]
        elif head == "mlm":
            cfg["architectures"] = ["RobertaForMaskedLM"]
        else:
            cfg["architectures"] = ["RobertaModel"]
        shapes = {"embeddings.word_embeddings.weight": (V, C), "embeddings.position_embeddings.weight": (P, C),
                  "embeddings.token_type_embeddings.weight": (TV, C),
                  "embeddings.LayerNorm.weight": (C,), "embeddings.LayerNorm.bias": (C,)}
        for i in range(L):
            q = f"encoder.layer.{i}."
            for lin, (o, n_in) in {"attention.self.query": (C, C), "attention.self.key": (C, C), "attention.self.value": (C, C),
                                   "attention.output.dense": (C, C), "intermediate.dense": (I, C), "output.dense": (C, I)}.items():
                shapes[q + lin + ".weight"] = (o, n_in)
                shapes[q + lin + ".bias"] = (o,)
            for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
                shapes[q + ln + ".weight"] = (C,)
                shapes[q + ln + ".bias"] = (C,)
        heads = {}
        if head in ("classifier", "regression"):
            nl = 1 if head == "regression" else ex["num_labels"]
            heads = {"classifier.dense.weight": (C, C), "classifier.dense.bias": (C,),
                     "classifier.out_proj.weight": (nl, C), "classifier.out_proj.bias": (nl,)}
        elif head == "mlm":
            heads = {"lm_head.dense.weight": (C, C), "lm_head.dense.bias": (C,),
                     "lm_head.layer_norm.weight": (C,), "lm_head.layer_norm.bias": (C,), "lm_head.bias": (V,)}
        if ex.get("pooler"):
            heads.update({"pooler.dense.weight": (C, C), "pooler.dense.bias": (C,)})
        p = {}
        for k, s in sorted({**shapes, **heads}.items()):
            std = 0.5 if ("LayerNorm" in k or "layer_norm" in k) else 0.3
            t = torch.randn(*s, generator=g) * std
            if k.endswith("LayerNorm.weight") or k.endswith("layer_norm.weight"):
                t = t + 1.0
            if dt == "F16":
                t = t.to(torch.float16).to(torch.float32)  # the reference sees what the file holds
            p[k] = t
        # A right-padded batch of sequences <s> … </s> of different lengths.
        lengths = ex["lengths"]
        T = max(lengths)
        ids = torch.full((len(lengths), T), PAD, dtype=torch.long)
        attn = torch.zeros((len(lengths), T), dtype=torch.long)
        for r, n in enumerate(lengths):
            body = torch.randint(3, V, (n,), generator=g)
            body[0], body[n - 1] = BOS, EOS
            if ex.get("mid_pad") and r == 0:
                body[n // 2] = PAD  # a pad token inside the text: its position id is padding_idx
            ids[r, :n] = body
            attn[r, :n] = 1
        with torch.no_grad():
            h = encoder(p, cfg, ids, attn)
            res = {"head": head, "tokens": [ids[r, :n].tolist() for r, n in enumerate(lengths)]}
            if head in ("classifier", "regression"):
                x = torch.tanh(linear(h[:, 0, :], p, "classifier.dense"))
                logits = linear(x, p, "classifier.out_proj")
                if head == "regression":
                    labels = torch.randn(len(lengths), generator=g)
                    loss = F.mse_loss(logits.squeeze(), labels.squeeze())
                    res["scores"] = labels.tolist()
                else:
                    labels = torch.randint(0, ex["num_labels"], (len(lengths),), generator=g)
                    loss = F.cross_entropy(logits.view(-1, ex["num_labels"]), labels.view(-1))
                    res["labels"] = labels.tolist()
                res["logits"] = [float(v) for v in logits.flatten()]
                res["loss"] = float(loss)
            elif head == "mlm":
                x = F.layer_norm(F.gelu(linear(h, p, "lm_head.dense")), (C,), p["lm_head.layer_norm.weight"],
                                 p["lm_head.layer_norm.bias"], cfg["layer_norm_eps"])
                logits = torch.matmul(x, p["embeddings.word_embeddings.weight"].t()) + p["lm_head.bias"]
                labels = ids.masked_fill(attn == 0, -100)
                loss = F.cross_entropy(logits.view(-1, V), labels.view(-1))
                res["logits"] = [float(v) for r, n in enumerate(lengths) for v in logits[r, :n].flatten()]
                res["loss"] = float(loss)
            else:
                res["hidden"] = [float(v) for r, n in enumerate(lengths) for v in h[r, :n].flatten()]
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        pre = "roberta." if prefix else ""
        tensors = {}
        for k, v in p.items():
            key = k if (k.startswith("classifier.") or k.startswith("lm_head.")) else pre + k
            tensors[key] = (v, dt)
        if ex.get("position_ids_buffer"):
            tensors[pre + "embeddings.position_ids"] = (torch.arange(P).view(1, P), "I64")
        if ex.get("tied_copy"):
            tensors["lm_head.decoder.weight"] = (p["embeddings.word_embeddings.weight"], dt)
            tensors["lm_head.decoder.bias"] = (p["lm_head.bias"], dt)
        write_safetensors(os.path.join(d, "model.safetensors"), tensors)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1)
        res["torch"] = torch.__version__
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump(res, f)


if __name__ == "__main__":
    main()
