#!/usr/bin/env python3
"""Regenerates the PyTorch checkpoint fixtures of core/hf's tests.

    cd core/hf/testdata && python3 make_fixtures.py

Needs torch (any version with the zip format, >= 1.6). The generated files
are committed, so the Go tests do not need Python or torch. Values are
deterministic (no RNG) and are written to expected.json exactly as torch
converts them to float32, so the Go loader must reproduce them bit for bit.

Files:
  torch_zip/pytorch_model.bin         torch.save zip format, pickle protocol 2 (the default)
  torch_zip_proto4/pytorch_model.bin  zip format, pickle protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL)
  torch_legacy/pytorch_model.bin      _use_new_zipfile_serialization=False (torch < 1.6 format)
  torch_sharded/                      pytorch_model.bin.index.json and two .bin shards
  malicious.bin                       a pickle that would call os.system: must be rejected
  expected.json                       name -> {shape, dtype, values} of every float tensor
"""
import collections
import json
import os

import torch


def state_dict():
    sd = collections.OrderedDict()
    wte = (torch.arange(20, dtype=torch.float32) * 0.1 - 1.0).reshape(5, 4)
    sd["transformer.wte.weight"] = wte
    sd["lm_head.weight"] = wte  # tied: the same storage twice
    sd["transformer.h.0.attn.c_attn.weight"] = (torch.arange(24, dtype=torch.float32) / 7.0).reshape(4, 6)
    base = (torch.arange(12, dtype=torch.float32) * 1.5 - 4.0).reshape(3, 4)
    sd["t.transposed"] = base.t()  # stride (1, 4)
    sd["t.strided"] = base[:, ::2]  # stride (4, 2), gaps in storage
    big = torch.arange(10, dtype=torch.float32) * -0.5
    sd["t.offset"] = big[3:7]  # storage offset 3, whole storage saved
    sd["t.offset2d"] = big[1:9].reshape(2, 4)[:, 1:]  # offset and stride
    sd["t.half"] = torch.tensor([0.1, -2.5, 65504.0, 1e-5], dtype=torch.float16)
    sd["t.bf16"] = torch.tensor([[0.1, -3.0], [1e20, 7.25]], dtype=torch.bfloat16)
    sd["t.half_t"] = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=torch.float16).t()
    sd["t.scalar"] = torch.tensor(3.25)
    sd["t.empty"] = torch.zeros(0, 3)
    sd["pos_ids"] = torch.arange(4).unsqueeze(0)  # int64: skipped by the loader
    sd["attn.bias"] = torch.tril(torch.ones(3, 3, dtype=torch.bool))  # bool: skipped
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("transformer", {"version": 1})])
    return sd


def expected(sd):
    out = {}
    dt = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
    for k, v in sd.items():
        if v.dtype not in dt:
            continue
        out[k] = {
            "shape": list(v.shape),
            "dtype": dt[v.dtype],
            "values": [float(x) for x in v.float().flatten().tolist()],
        }
    return out


class Evil:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def main():
    sd = state_dict()
    for d in ["torch_zip", "torch_zip_proto4", "torch_legacy", "torch_sharded"]:
        os.makedirs(d, exist_ok=True)
    torch.save(sd, "torch_zip/pytorch_model.bin")
    torch.save(sd, "torch_zip_proto4/pytorch_model.bin", pickle_protocol=4)
    torch.save(sd, "torch_legacy/pytorch_model.bin", _use_new_zipfile_serialization=False)

    names = list(sd.keys())
    half = len(names) // 2
    weight_map = {}
    for i, part in enumerate([names[:half], names[half:]]):
        shard = "pytorch_model-%05d-of-00002.bin" % (i + 1)
        # Clone so each shard holds only its own tensors' storages.
        torch.save(collections.OrderedDict((k, sd[k].clone()) for k in part), "torch_sharded/" + shard)
        for k in part:
            weight_map[k] = shard
    with open("torch_sharded/pytorch_model.bin.index.json", "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=2, sort_keys=True)

    torch.save({"w": torch.ones(2), "payload": Evil()}, "malicious.bin")

    with open("expected.json", "w") as f:
        json.dump(expected(sd), f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
