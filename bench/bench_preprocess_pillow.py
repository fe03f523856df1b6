#!/usr/bin/python3
"""Peer (not a test): the same work in Python the way fastai's pipeline does it —
Pillow decode, convert('RGB'), fastai centre crop + Image.resize(BILINEAR), then
numpy /255, normalise, HWC→CHW.  usage: bench_preprocess_pillow.py IMAGE [SIZE] [RUNS]"""
import sys, time
import numpy as np
from PIL import Image
import PIL

path, size, runs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 224, int(sys.argv[3]) if len(sys.argv) > 3 else 10
mean = np.array([0.485, 0.456, 0.406], np.float32)
std = np.array([0.229, 0.224, 0.225], np.float32)
ms = []
for _ in range(runs):
    t0 = time.perf_counter()
    im = Image.open(path).convert("RGB")
    w, h = im.size
    m = min(w / size, h / size)
    cw, ch = int(m * size), int(m * size)
    x0, y0 = int(0.5 * (w - cw)), int(0.5 * (h - ch))
    im = im.crop((x0, y0, x0 + cw, y0 + ch)).resize((size, size), Image.BILINEAR)
    x = ((np.asarray(im, np.float32) / 255 - mean) / std).transpose(2, 0, 1).copy()
    ms.append((time.perf_counter() - t0) * 1000)
ms.sort()
print(f"Pillow {PIL.__version__} + numpy: median {ms[len(ms) // 2]:.1f} ms, best {ms[0]:.1f} ms ({runs} runs)")
