#!/usr/bin/python3
"""100 generated images for tests/predict/predict_asan.sh: PNG (L, LA, RGB, RGBA,
palette), JPEG (gray, RGB, progressive, EXIF-rotated), BMP and GIF, 1 to 300 px a side,
plus 4 bad files (truncated JPEG and PNG, text, empty). usage: make_images.py OUT_DIR"""
import io, os, random, sys
from PIL import Image, ImageDraw

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = random.Random(6)
kinds = [("png", "L"), ("png", "LA"), ("png", "RGB"), ("png", "RGBA"), ("png", "P"),
         ("jpg", "L"), ("jpg", "RGB"), ("jpg", "RGB-progressive"), ("jpg", "RGB-exif"),
         ("bmp", "RGB"), ("gif", "P")]
for i in range(100):
    ext, mode = kinds[i % len(kinds)]
    w, h = rng.choice([1, 2, 7, 31, 64, 100, 160, 224, 300]), rng.choice([1, 3, 17, 40, 96, 128, 200, 299])
    im = Image.new("RGB", (w, h), tuple(rng.randrange(256) for _ in range(3)))
    d = ImageDraw.Draw(im)
    for _ in range(3):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        d.rectangle([x0, y0, x0 + rng.randrange(1, w + 1), y0 + rng.randrange(1, h + 1)],
                    fill=tuple(rng.randrange(256) for _ in range(3)))
    base = mode.split("-")[0]
    im = im.convert(base) if base != "LA" else im.convert("LA")
    if base == "RGBA":
        im.putalpha(rng.randrange(256))
    path = os.path.join(out, f"img_{i:03d}.{ext}")
    if ext == "jpg":
        kw = {"quality": rng.randrange(30, 95)}
        if mode.endswith("progressive"):
            kw["progressive"] = True
        if mode.endswith("exif"):
            exif = Image.Exif()
            exif[0x0112] = rng.choice([3, 6, 8])  # orientation
            kw["exif"] = exif.tobytes()
        im.save(path, "JPEG", **kw)
    else:
        im.save(path, {"png": "PNG", "bmp": "BMP", "gif": "GIF"}[ext])
buf = io.BytesIO()
Image.new("RGB", (120, 80), (200, 30, 30)).save(buf, "JPEG")
open(os.path.join(out, "bad_truncated.jpg"), "wb").write(buf.getvalue()[: len(buf.getvalue()) // 3])
buf = io.BytesIO()
Image.new("RGB", (120, 80), (30, 200, 30)).save(buf, "PNG")
open(os.path.join(out, "bad_truncated.png"), "wb").write(buf.getvalue()[:60])
open(os.path.join(out, "bad_text.png"), "w").write("this is not an image\n")
open(os.path.join(out, "bad_empty.jpg"), "wb").close()
