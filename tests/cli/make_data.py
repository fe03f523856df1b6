#!/usr/bin/python3
"""A tiny labelled photo folder for the CLI test: 3 colours x 16 images (JPEG and
PNG, varied sizes), plus files that must be reported and skipped."""
import os, random, sys
from PIL import Image, ImageDraw

root = sys.argv[1]
rng = random.Random(7)
colours = {"blue": (40, 60, 220), "green": (40, 200, 60), "red": (220, 40, 40)}
for label, rgb in colours.items():
    os.makedirs(os.path.join(root, label), exist_ok=True)
    for i in range(16):
        w, h = rng.randrange(30, 90), rng.randrange(30, 90)
        jitter = tuple(max(0, min(255, c + rng.randrange(-30, 30))) for c in rgb)
        im = Image.new("RGB", (w, h), jitter)
        d = ImageDraw.Draw(im)
        for _ in range(3):
            x, y = rng.randrange(w), rng.randrange(h)
            d.rectangle([x, y, x + 6, y + 6], fill=tuple(rng.randrange(256) for _ in range(3)))
        ext = ".jpg" if i % 2 else ".PNG"
        im.save(os.path.join(root, label, f"{label}_{i:02d}{ext}"), "JPEG" if ext == ".jpg" else "PNG")
good = open(os.path.join(root, "red", "red_01.jpg"), "rb").read()
with open(os.path.join(root, "red", "corrupt.jpg"), "wb") as f:
    f.write(good[:20])
with open(os.path.join(root, "green", "notes.jpg"), "w") as f:
    f.write("not a photo\n")
with open(os.path.join(root, "blue", ".hidden.jpg"), "w") as f:
    f.write("hidden files are skipped\n")
with open(os.path.join(root, "blue", "README.txt"), "w") as f:
    f.write("not an image extension\n")
