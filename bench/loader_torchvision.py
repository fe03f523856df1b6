#!/usr/bin/python3
"""Peer for bench/loader_vs_torchvision.sh: torchvision's loader alone (no model).

ImageFolder + DataLoader(num_workers=2, batch 64, shuffle, drop_last) with the
per-image equivalents of fastai's RandomResizedCrop + aug_transforms defaults:
RandomResizedCrop(size, scale=(0.08, 1)), flip p=0.5, rotate +-10 deg and zoom 1-1.1
(p=0.75), perspective 0.2 (p=0.75), brightness/contrast 0.2 (p=0.75), ToTensor,
Normalize. Prints images/s per epoch (each epoch decodes every file again).
usage: loader_torchvision.py DATA [--size 128] [--bs 64] [--epochs 3] [--workers 2]
"""
import argparse, time, torch, torchvision
from torchvision import transforms as T

ap = argparse.ArgumentParser()
ap.add_argument("data"); ap.add_argument("--size", type=int, default=128)
ap.add_argument("--bs", type=int, default=64); ap.add_argument("--epochs", type=int, default=3)
ap.add_argument("--workers", type=int, default=2)
a = ap.parse_args()
torch.set_num_threads(1)
tf = T.Compose([
    T.RandomResizedCrop(a.size, scale=(0.08, 1.0)),
    T.RandomHorizontalFlip(),
    T.RandomApply([T.RandomAffine(degrees=10, scale=(1.0, 1.1))], p=0.75),
    T.RandomPerspective(distortion_scale=0.2, p=0.75),
    T.RandomApply([T.ColorJitter(brightness=0.2, contrast=0.2)], p=0.75),
    T.ToTensor(),
    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
ds = torchvision.datasets.ImageFolder(a.data, tf)
dl = torch.utils.data.DataLoader(ds, batch_size=a.bs, shuffle=True, num_workers=a.workers, drop_last=True,
                                 persistent_workers=a.workers > 0)
for e in range(a.epochs):
    t0 = time.perf_counter(); n = 0; check = 0.0
    for x, y in dl:
        n += x.shape[0]; check += float(x[0, 0, 0, 0])
    dt = time.perf_counter() - t0
    print(f"torchvision epoch {e + 1}: {n} images in {dt:.2f} s: {n / dt:.1f} img/s", flush=True)
