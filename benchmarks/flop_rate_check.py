"""Checks the FLOP-based estimates on the machine at hand: FLOPs x a rate measured on the
published benchmark's workload, against the time measured for each method's step.

The T4 estimates (:mod:`fgssl.study.estimates`) take a rate measured on one workload —
ResNet-50 trained at 224 px, batch 256, mixed precision — and apply it to every method of
the ``gpu`` profile (ResNet-18 at 96 px). This script does the same on this machine: it
times the reference workload's step (supervised ResNet-50 on SynthBirds at 224 px, through
:func:`fgssl.train.fit`, as :func:`fgssl.study.runs.step_seconds` times a run), takes its
FLOP rate, predicts each method's step from its FLOPs, and times that step too. ``ratio`` =
measured / predicted: 1.0 means FLOPs alone tell the time; above 1, the small images use the
machine less well than the reference does, and the T4 table should be read as optimistic by
about that factor. Prints one JSON line per method as it finishes, then a summary line.

Usage::

    python benchmarks/flop_rate_check.py [--profile gpu] [--methods simclr byol ...]
                                         [--reference-size 224]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="gpu")
    parser.add_argument("--methods", nargs="+", default=["simclr", "byol", "vicreg", "dino",
                                                         "jigsaw", "srgan", "supervised",
                                                         "pmg"])
    parser.add_argument("--reference-size", type=int, default=224,
                        help="the reference workload's image size (smaller: a quick try)")
    args = parser.parse_args()
    os.environ.setdefault("FGSSL_DATA", tempfile.mkdtemp(prefix="fgssl-flop-check-"))

    import torch

    from fgssl.config import profile
    from fgssl.methods.registry import method_class
    from fgssl.study.estimates import training_flops_per_image
    from fgssl.study.runs import Run, step_seconds

    prof = profile(args.profile)
    reference = dataclasses.replace(profile("full"), backbone="resnet50",
                                    image_size=args.reference_size)
    step, images = step_seconds(Run.of("supervised", reference))
    batch = min(method_class("supervised").batch_size_for(reference), images)
    rate = training_flops_per_image("supervised", reference) * batch / step
    print(json.dumps({"reference": f"supervised resnet50 {args.reference_size} px",
                      "batch": batch,
                      "step_s": round(step, 3), "flops_per_s": round(rate),
                      "threads": torch.get_num_threads()}), flush=True)
    ratios = []
    for name in args.methods:
        run = Run.of(name, prof)
        step, images = step_seconds(run)
        batch = min(method_class(name).batch_size_for(prof), images)
        flops = training_flops_per_image(name, prof) * batch
        ratios.append(step / (flops / rate))
        print(json.dumps({"method": name, "profile": prof.name, "batch": batch,
                          "gflops_per_step": round(flops / 1e9, 1), "step_s": round(step, 3),
                          "predicted_step_s": round(flops / rate, 3),
                          "ratio": round(ratios[-1], 2)}), flush=True)
    print(json.dumps({"summary": True, "profile": prof.name, "reference_flops_per_s":
                      round(rate), "ratios": [round(r, 2) for r in ratios],
                      "ratio_min": round(min(ratios), 2), "ratio_max": round(max(ratios), 2)}))


if __name__ == "__main__":
    main()
