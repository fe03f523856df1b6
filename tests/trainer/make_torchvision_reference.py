#!/usr/bin/env python3
"""Writes torchvision ResNets as .safetensors plus their logits on a fixed input, for
the parity test (tests/trainer/test_pretrained.cpp): Ursa must load the weights
unchanged and reproduce torchvision's features.

Usage: make_torchvision_reference.py OUT_DIR
Writes OUT_DIR/{resnet18,resnet34}.safetensors (torchvision state_dict names, random
init with seed 0, BatchNorm running statistics randomised so eval-mode BatchNorm is
exercised), OUT_DIR/input.f32 (float32 [2,3,64,64]) and OUT_DIR/{arch}_logits.f32
(torchvision's eval-mode logits, float32 [2,1000]). Needs Debian's
python3-torchvision; no safetensors package: the format is written by hand.
"""
import json
import os
import struct
import sys

import torch
import torchvision

DTYPES = {torch.float32: "F32", torch.int64: "I64"}


def save_safetensors(tensors, path):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    with open(os.path.join(out, "input.f32"), "wb") as f:
        f.write(x.numpy().astype("<f4").tobytes())
    for arch in ("resnet18", "resnet34"):
        torch.manual_seed(1)
        model = getattr(torchvision.models, arch)(weights=None)
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 2.0)
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
        model.eval()
        with torch.no_grad():
            logits = model(x)
        save_safetensors(model.state_dict(), os.path.join(out, arch + ".safetensors"))
        with open(os.path.join(out, arch + "_logits.f32"), "wb") as f:
            f.write(logits.numpy().astype("<f4").tobytes())
    print("torchvision references written to", out)


if __name__ == "__main__":
    main()
