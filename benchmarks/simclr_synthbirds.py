"""Does SimCLR learn fine-grained features on SynthBirds, on a 2-core CPU?

Stages (all in the chosen profile, the same backbone, splits and evaluation protocol):

- ``random``: random-init backbone, linear probe and kNN on all train labels;
- ``supervised``: the backbone trained from scratch on all train labels, then probed;
- ``simclr``: SimCLR (standard views) on the unlabelled pool, timed, then probed;
- ``low``: at ``--per-class`` labels per species, SimCLR + linear probe vs supervised from
  scratch on the same labels (one label subset per evaluation seed);
- ``variants``: each fine-grained view variant, probed on all labels.

Usage::

    python benchmarks/simclr_synthbirds.py [--profile cpu] [--seeds 2] [--eval-seeds 3]
        [--per-class 5] [--stages random,supervised,simclr,low,variants]

Prints one JSON object (and writes it to ``--out``/results.json).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from torch import nn

from fgssl.config import profile as get_profile
from fgssl.data.synthbirds import NUM_CLASSES
from fgssl.evaluate.metrics import summarise
from fgssl.evaluate.protocol import evaluate_backbone
from fgssl.methods.base import Method
from fgssl.methods.registry import method_class
from fgssl.methods.simclr import SimCLR
from fgssl.study.runs import Run, backbone_for, pretrain
from fgssl.transforms import VARIANTS

STAGES = ("random", "supervised", "simclr", "low", "variants")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--seeds", type=int, default=2, help="pretraining seeds")
    parser.add_argument("--eval-seeds", type=int, default=3, help="label subsets, low-label")
    parser.add_argument("--per-class", type=int, default=5)
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--variants", default=",".join(VARIANTS[1:]))
    parser.add_argument("--out", type=Path, default=Path("runs/bench/simclr_synthbirds"))
    args = parser.parse_args()
    prof = get_profile(args.profile)
    stages = args.stages.split(",")
    low = args.per_class / prof.train_per_class  # the label fraction of k images per class
    result: dict[str, Any] = {"profile": prof.name, "image_size": prof.image_size,
                              "backbone": prof.backbone, "chance": 1 / NUM_CLASSES}

    def probe(backbone: nn.Module, labels: float = 1.0, seed: int = 0,
              protocol: str = "linear") -> float:
        return evaluate_backbone(backbone, "synthbirds", prof, protocol, labels, seed)["top1"]

    def train(name: str, seed: int, labels: float = 1.0, **options: Any
              ) -> tuple[Method, float, list[dict[str, Any]]]:
        epochs = method_class(name).epochs_for(prof)  # a budget's epoch: as many steps
        start = time.perf_counter()
        tag = "-".join([name, *options.values(), f"labels{labels:g}", f"seed{seed}"])
        method, history = pretrain(Run.of(name, prof, labels=labels, seed=seed, epochs=epochs,
                                          **options), args.out / tag, progress_bar=False)
        return method, time.perf_counter() - start, history

    if "random" in stages:
        backbones = [backbone_for("random", prof, seed)[1] for seed in range(args.seeds)]
        result["random"] = {p: summarise([probe(b, protocol=p) for b in backbones])
                            for p in ("linear", "knn")}
    if "supervised" in stages:
        runs = [train("supervised", seed) for seed in range(args.seeds)]
        result["supervised"] = {
            **{p: summarise([probe(m.backbone, protocol=p) for m, _, _ in runs])
               for p in ("linear", "knn")},
            "train_seconds": summarise([s for _, s, _ in runs])}
    simclr_runs = []
    if "simclr" in stages or "low" in stages:
        simclr_runs = [train("simclr", seed) for seed in range(args.seeds)]
    if "simclr" in stages:
        result["simclr"] = {
            **{p: summarise([probe(m.backbone, protocol=p) for m, _, _ in simclr_runs])
               for p in ("linear", "knn")},
            "pretrain_seconds": summarise([s for _, s, _ in simclr_runs]),
            "epochs": SimCLR.epochs_for(prof),
            "knn_by_epoch": [round(r["knn_top1"], 4) for r in simclr_runs[0][2]]}
    if "low" in stages:
        seeds = range(args.eval_seeds)
        ssl = [probe(simclr_runs[s % len(simclr_runs)][0].backbone, low, s) for s in seeds]
        scratch = [probe(train("supervised", s, low)[0].backbone, low, s) for s in seeds]
        result["low_label"] = {"per_class": args.per_class, "labels": low,
                               "simclr_linear": summarise(ssl), "supervised": summarise(scratch)}
    if "variants" in stages:  # seed 0 of each, beside seed 0 of the standard views
        table = {}
        if simclr_runs:
            table["standard"] = {"linear": round(probe(simclr_runs[0][0].backbone), 4),
                                 "pretrain_seconds": round(simclr_runs[0][1], 1)}
        for variant in args.variants.split(","):
            method, seconds, _ = train("simclr", 0, variant=variant)
            table[variant] = {"linear": round(probe(method.backbone), 4),
                              "pretrain_seconds": round(seconds, 1)}
        best = max((v for v in table if v != "standard"), key=lambda v: table[v]["linear"])
        result["variants"] = {"seed": 0, "table": table, "best": best}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
