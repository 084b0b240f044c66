"""The whole study on a folder of one's own images, at the profile's size and at larger ones.

Writes SynthBirds as a folder of PNG files (``--species`` x ``--per-species`` labelled
images in class folders beside ``--unlabelled`` unlabelled ones, ``--image-size`` px:
:func:`fgssl.data.example_folders.write_example_folder`), then runs
``fgssl demo --data folder --root FOLDER --profile P [--size S]`` for each ``--sizes`` entry
(0: the profile's own size), in a process of its own, each into a fresh runs folder.

Usage::

    python benchmarks/own_folder.py [--profile cpu] [--sizes 0 64] [--out runs/bench/own_folder]

Prints one JSON line per finished size (wall time, the linear probe and fine-tuning rows),
so that a run cut short still leaves its results; ``results.md`` of each study is in
``--out``/size<S>/demo.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from fgssl.config import profile as get_profile
from fgssl.data.example_folders import write_example_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 64])
    parser.add_argument("--species", type=int, default=24)
    parser.add_argument("--per-species", type=int, default=40)
    parser.add_argument("--unlabelled", type=int, default=1040)
    parser.add_argument("--image-size", type=int, default=96, help="of the files written")
    parser.add_argument("--out", type=Path, default=Path("runs/bench/own_folder"))
    args = parser.parse_args()
    images = args.out / f"images_{args.image_size}px"
    if not images.exists():
        write_example_folder(images, args.species, args.per_species, args.unlabelled,
                             args.image_size)
    for size in args.sizes:
        chosen = size or get_profile(args.profile).image_size
        folder = args.out / f"size{chosen}"
        env = {**os.environ, "FGSSL_RUNS": str(folder / "runs"),
               "FGSSL_DATA": str(folder / "data")}
        command = [sys.executable, "-m", "fgssl", "demo", "--data", "folder", "--root",
                   str(images), "--profile", args.profile, "--out", str(folder / "demo"),
                   *(["--size", str(size)] if size else [])]
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=sys.stderr)  # its log apart
        results = json.loads((folder / "demo" / "results.json").read_text())
        print(json.dumps({
            "profile": args.profile, "size": chosen, "files_px": args.image_size,
            "wall_s": round(time.perf_counter() - started, 1),
            "demo_wall_s": results["wall_s"], "images": {
                "labelled": args.species * args.per_species, "unlabelled": args.unlabelled},
            "rows": [{key: row.get(key) for key in ("method", "protocol", "labels",
                                                       "top1_mean", "top1_std")}
                     for row in results["rows"]]}), flush=True)


if __name__ == "__main__":
    main()
