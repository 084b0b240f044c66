"""PMG against plain supervised training on SynthBirds: the study's supervised baseline.

For each seed, both methods train from scratch on all of the labelled train split (the
profile's epochs and batch: ``pmg`` 15 epochs of four progressive steps per batch, ``supervised``
30 of one, so the two take comparable numbers of optimizer steps) and are timed; each is then
judged by its *own* classifier on the test split (PMG: the sum of its four heads' logits),
read once, with the last epoch's weights (nothing is chosen on test).

Usage::

    python benchmarks/pmg_synthbirds.py [--profile cpu] [--seeds 2]

Prints one JSON object (and writes it to ``--out``/results.json).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from fgssl.config import profile as get_profile
from fgssl.data import catalog
from fgssl.evaluate.finetune import predict
from fgssl.evaluate.metrics import classification_metrics, summarise
from fgssl.methods.registry import method_class
from fgssl.study.runs import Run, pretrain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/pmg_synthbirds"))
    args = parser.parse_args()
    prof = get_profile(args.profile)
    test = catalog.dataset("synthbirds", "test", size=prof.image_size, profile=prof)
    runs: dict[str, list[float]] = {}
    for seed in range(args.seeds):
        for name in ("supervised", "pmg"):
            started = time.perf_counter()
            method, _ = pretrain(Run.of(name, prof, seed=seed), args.out / f"{name}-seed{seed}",
                                 resume=False, progress_bar=False)
            runs.setdefault(f"{name}_train_seconds", []).append(time.perf_counter() - started)
            predicted, truth = predict(method.eval(), test)
            metrics = classification_metrics(truth, predicted)
            for key in ("top1", "mean_per_class_acc"):
                runs.setdefault(f"{name}_{key}", []).append(metrics[key])
    result: dict[str, Any] = {
        "profile": prof.name, "image_size": prof.image_size, "backbone": prof.backbone,
        "epochs": {m: method_class(m).epochs_for(prof) for m in ("supervised", "pmg")},
        "batch": {m: method_class(m).batch_size_for(prof) for m in ("supervised", "pmg")},
        "n_test": len(test), **{key: summarise(values) for key, values in runs.items()}}
    result["pmg_minus_supervised_top1"] = round(float(
        np.mean(runs["pmg_top1"]) - np.mean(runs["supervised_top1"])), 4)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
