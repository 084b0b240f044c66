"""Does Jigsaw pretraining learn anything useful on SynthBirds, on a 2-core CPU?

For each pretraining seed: Jigsaw (the profile's backbone, epochs and unlabelled pool; 100
permutations of a 3x3 grid unless told otherwise) is trained and timed; its pretext accuracy is
measured on the last training epoch and on puzzles made from the val images (eval mode,
seeded), overall and by the permutation's Hamming distance from the identity; its backbone is
judged by the linear probe and kNN next to a random-init backbone of the same seed (same
splits, probe tuned on val, test read once).

Usage::

    python benchmarks/jigsaw_synthbirds.py [--profile cpu] [--seeds 2] [--permutations 100]
        [--grid 3] [--tile-fraction 0.85] [--record NAME]

Prints one JSON object (and writes it to ``--out``/results.json); with ``--record NAME`` its
figures also become record ``NAME`` of the kit's reference results (``benchmarks/reference.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from reference import record, top1_figures

from fgssl.config import profile as get_profile
from fgssl.data import catalog
from fgssl.evaluate.metrics import summarise
from fgssl.evaluate.protocol import evaluate_backbone
from fgssl.methods.jigsaw import TILE_FRACTION, Jigsaw, permutation_set
from fgssl.study.runs import Run, backbone_for, pretrain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--permutations", type=int, default=100)
    parser.add_argument("--grid", type=int, default=3)
    parser.add_argument("--tile-fraction", type=float, default=TILE_FRACTION,
                        help="a tile's side over its cell's (1: touching tiles)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench/jigsaw_synthbirds"))
    parser.add_argument("--record", metavar="NAME",
                        help="also write the figures as record NAME of the reference results")
    args = parser.parse_args()
    prof = get_profile(args.profile)
    val = catalog.dataset("synthbirds", "val", profile=prof)
    val_images = torch.stack([val[i][0] for i in range(len(val))])
    runs: dict[str, list[float]] = {key: [] for key in (
        "pretrain_seconds", "pretext_train", "pretext_val", "linear", "knn",
        "random_linear", "random_knn")}
    by_hamming: list[dict[int, float]] = []  # per seed: val pretext accuracy by distance
    for seed in range(args.seeds):
        start = time.perf_counter()
        method, history = pretrain(
            Run.of("jigsaw", prof, seed=seed, permutations=args.permutations, grid=args.grid,
                   tile_fraction=args.tile_fraction),
            args.out / f"jigsaw-seed{seed}", resume=False, progress_bar=False)
        runs["pretrain_seconds"].append(time.perf_counter() - start)
        runs["pretext_train"].append(history[-1]["pretext_accuracy"])
        scores = method.pretext_metrics(val_images)
        runs["pretext_val"].append(scores["pretext_accuracy"])
        by_hamming.append(scores["pretext_accuracy_by_hamming"])
        random_backbone = backbone_for("random", prof, seed)[1]
        for protocol in ("linear", "knn"):
            runs[protocol].append(
                evaluate_backbone(method.backbone, "synthbirds", prof, protocol)["top1"])
            runs[f"random_{protocol}"].append(
                evaluate_backbone(random_backbone, "synthbirds", prof, protocol)["top1"])
    chosen = permutation_set(args.permutations, args.grid)
    result: dict[str, Any] = {
        "profile": prof.name, "image_size": prof.image_size, "backbone": prof.backbone,
        "epochs": Jigsaw.epochs_for(prof), "tile_fraction": args.tile_fraction,
        "permutation_set": chosen.report(),
        "chance": 1 / args.permutations, **{key: summarise(values) for key, values in runs.items()}}
    result["pretext_val_by_hamming"] = {
        distance: summarise([scores[distance] for scores in by_hamming if distance in scores])
        for distance in sorted({d for scores in by_hamming for d in scores})}
    result["linear_gain_over_random"] = round(result["linear"]["mean"]
                                              - result["random_linear"]["mean"], 4)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result))
    if args.record:
        record(args.record, reference_figures(runs), sys.argv)


def reference_figures(runs: dict[str, list[float]]) -> dict[str, str]:
    """The figures the course quotes, as it writes them: the pretext accuracy on the last
    training epoch and on val puzzles, and the linear and kNN top-1 of the Jigsaw and the
    random-init backbones (``"98.7%"``), each with its spread over seeds (``"± 0.4"``)."""
    return {name: figure for key, values in runs.items() if key != "pretrain_seconds"
            for name, figure in top1_figures(key, values).items()}


if __name__ == "__main__":
    main()
