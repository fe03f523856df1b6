#!/usr/bin/python3
"""Benchmark data: 2 labels (circle, square) x 6 generated 224 px pictures, enough to
make a ResNet-18-shaped model with `ursa train` (for timing, not accuracy).
usage: make_shapes.py OUT_DIR"""
import os, random, sys
from PIL import Image, ImageDraw

root = sys.argv[1]
rng = random.Random(1)
for label in ("circle", "square"):
    os.makedirs(os.path.join(root, label), exist_ok=True)
    for i in range(6):
        bg = tuple(rng.randrange(0, 120) for _ in range(3))
        fg = tuple(rng.randrange(130, 256) for _ in range(3))
        im = Image.new("RGB", (224, 224), bg)
        d = ImageDraw.Draw(im)
        r = rng.randrange(40, 80)
        cx, cy = rng.randrange(r + 5, 219 - r), rng.randrange(r + 5, 219 - r)
        (d.ellipse if label == "circle" else d.rectangle)([cx - r, cy - r, cx + r, cy + r], fill=fg)
        im.save(os.path.join(root, label, f"{label}_{i:02d}.png"))
