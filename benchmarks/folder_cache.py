"""Is a folder of images decoded once, or on every call?

Writes a folder of JPEGs (``--classes`` x ``--per-class``, ``--width`` x ``--height`` px) to a
temporary folder and asks :func:`fgssl.data.catalog.dataset` for its train split at
``--size`` px ``--calls`` times: the first call decodes and caches it, every later one should
only read the uint8 cache.

Usage::

    python benchmarks/folder_cache.py [--classes 10] [--per-class 100] [--size 32] [--calls 3]

Prints one JSON object: the seconds of each call, and the first call's over the mean of the
others.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def write_folder(root: Path, classes: int, per_class: int, width: int, height: int) -> None:
    """``root/c<i>/<k>.jpg``: noise images, seeded."""
    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"c{c}").mkdir(parents=True)
        for k in range(per_class):
            pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"c{c}" / f"{k}.jpg", quality=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=120)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--calls", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as base:
        os.environ["FGSSL_DATA"] = str(Path(base) / "data")  # before fgssl reads it
        from fgssl.data import catalog

        images = Path(base) / "images"
        write_folder(images, args.classes, args.per_class, args.width, args.height)
        seconds = []
        for _ in range(args.calls):
            begun = time.perf_counter()
            catalog.dataset("folder", "train", images, size=args.size)
            seconds.append(round(time.perf_counter() - begun, 3))
    print(json.dumps({"images": args.classes * args.per_class, "size": args.size,
                      "seconds_per_call": seconds,
                      "first_over_later": round(seconds[0] / np.mean(seconds[1:]), 1)}))


if __name__ == "__main__":
    main()
