#!/usr/bin/python3
"""Benchmark data: N photos of 500x375 in 4 label folders, made from the darknet
package's photos (random crops, flips and scales, JPEG quality 90).
usage: make_photos.py OUT_DIR [N]"""
import os, random, sys
from PIL import Image

out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000
src = "/usr/share/darknet/data"
photos = [Image.open(os.path.join(src, f)).convert("RGB") for f in sorted(os.listdir(src)) if f.endswith(".jpg")]
rng = random.Random(0)
for label in range(4):
    os.makedirs(os.path.join(out, f"class{label}"), exist_ok=True)
for i in range(n):
    p = rng.choice(photos)
    w, h = p.size
    cw, ch = int(w * rng.uniform(0.5, 1)), int(h * rng.uniform(0.5, 1))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    im = p.crop((x, y, x + cw, y + ch)).resize((500, 375), Image.BILINEAR)
    if rng.random() < 0.5:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    im.save(os.path.join(out, f"class{i % 4}", f"{i:04d}.jpg"), quality=90)
