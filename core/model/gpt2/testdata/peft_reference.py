#!/usr/bin/env python3
"""Applies a PEFT-style adapter to a GPT-2 checkpoint the way Hugging Face
PEFT defines each method, then runs the independent GPT-2 reference of
hf_reference.py. Used to check that hut's adapter files mean what PEFT
means (key names, shapes, fan_in_fan_out orientation, LoRA's alpha/r).

    python3 peft_reference.py MODEL_DIR ADAPTER_DIR "t0 t1 t2 ..."   -> JSON logits [T, V]

LoRA (peft/tuners/lora/layer.py, Conv1D with fan_in_fan_out=True):
    W += transpose(B @ A, fan_in_fan_out) * lora_alpha / r
HiRA (peft/tuners/hira/layer.py):
    W *= 1 + transpose(B @ A, fan_in_fan_out)
HUT (docs/method.md, as reconstructed): in the nn.Linear orientation
    W' = diag(rowsum hut_A) @ W0 @ diag(colsum hut_B)
"""
import json
import struct
import sys

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from hf_reference import gpt2_forward  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        dt = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[v["dtype"]]
        t = torch.frombuffer(bytearray(data[b:e]), dtype=dt).to(torch.float32)
        out[k] = t.reshape(v["shape"])
    return out


def main():
    model_dir, adapter_dir, toks = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3].split()]
    cfg = json.load(open(model_dir + "/config.json"))
    sd = {k.removeprefix("transformer."): v for k, v in read_safetensors(model_dir + "/model.safetensors").items()}
    acfg = json.load(open(adapter_dir + "/adapter_config.json"))
    ad = read_safetensors(adapter_dir + "/adapter_model.safetensors")
    kind, fan = acfg["peft_type"], acfg.get("fan_in_fan_out", False)
    T = lambda w: w.t() if fan else w
    mods = sorted({k[len("base_model.model.transformer."):].rsplit(".", 2)[0] if k.endswith(".weight") and ".lora_" in k
                   else k[len("base_model.model.transformer."):].rsplit(".", 1)[0] for k in ad})
    for mod in mods:
        pre = "base_model.model.transformer." + mod + "."
        W = sd[mod + ".weight"]  # Conv1D: [in, out]
        if kind == "LORA":
            A, B = ad[pre + "lora_A.weight"], ad[pre + "lora_B.weight"]
            W = W + T(B @ A) * (acfg["lora_alpha"] / acfg["r"])
        elif kind == "HIRA":
            A, B = ad[pre + "hira_A"], ad[pre + "hira_B"]
            W = W * (1 + T(B @ A))
        elif kind == "HUT":
            a, b = ad[pre + "hut_A"].sum(1), ad[pre + "hut_B"].sum(0)
            Wl = T(W)  # Linear orientation [out, in]
            W = T(a.view(-1, 1) * Wl * b.view(1, -1))
        else:
            raise SystemExit("unknown peft_type " + kind)
        sd[mod + ".weight"] = W
    with torch.no_grad():
        logits = gpt2_forward(sd, cfg, torch.tensor([toks]))[0]
    print(json.dumps([float(x) for x in logits.flatten()]))


if __name__ == "__main__":
    main()
