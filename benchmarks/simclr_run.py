"""A short SimCLR run through ``fit()``: end-to-end training speed and peak memory.

SynthBirds images rendered at ``--size`` (a pool of ``--images``), SimCLR on ``--backbone``
trained for ``--epochs`` with the profile's precision and the GPU data path (the uint8 pool
held on the device, views made there). Images/s is taken from the last epoch (the first
pays for cuDNN's kernel search and, with ``--compile``, compilation).

Usage::

    python benchmarks/simclr_run.py [--size 112] [--images 4096] [--batch 256]
                                    [--backbone resnet18] [--epochs 2] [--out FILE]

Prints one JSON object (and writes it to ``--out`` when given).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from fgssl.data.cache import CachedImages
from fgssl.data.synthbirds import SynthBirds
from fgssl.methods.simclr import SimCLR
from fgssl.models.backbones import BACKBONES
from fgssl.train import Hardware, Hyperparameters, Watch, fit
from fgssl.utils import choose_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--backbone", choices=BACKBONES, default="resnet18")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    rendered = SynthBirds(seed=0).render("unlabelled", range(args.images), args.size)
    render_s = time.perf_counter() - started
    device = choose_device()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    method = SimCLR(args.backbone, args.size)
    history = fit(method, CachedImages(rendered.images, rendered.labels), "gpu", None,
                  hyper=Hyperparameters(epochs=args.epochs, batch_size=args.batch),
                  hardware=Hardware(data_path="gpu", compile_backbone=args.compile),
                  watch=Watch(progress_bar=False))
    steps = args.images // args.batch
    result = {
        "backbone": args.backbone, "size": args.size, "images": args.images,
        "batch": args.batch, "epochs": args.epochs, "compile": args.compile,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "render_s": round(render_s, 1),
        "epoch_s": [round(record["seconds"], 2) for record in history],
        "end_to_end_ips": round(steps * args.batch / history[-1]["seconds"], 1),
        "peak_mem_bytes": torch.cuda.max_memory_allocated(device)
        if device.type == "cuda" else None,
        "final_loss": round(history[-1]["loss"], 4)}
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
