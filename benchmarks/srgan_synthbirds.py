"""Does SRGAN pretraining super-resolve, and are its networks' features useful, on a 2-core CPU?

For each pretraining seed: SRGAN (pixel warm-up, then the adversarial game; the profile's
epochs and unlabelled pool at the method's HR size) is trained and timed; PSNR and SSIM
(luminance, border shaved) of its super-resolution and of bicubic up-scaling are measured on
the test split; the discriminator's (``srgan-d``) and the generator's (``srgan-g``) features
are judged by the linear probe and kNN, next to the same networks at random init and the
profile's random-init backbone (same splits, probe tuned on val, test read once). The
discriminator's features are read at the size it judged in training (``hr_size``, 64 px in
the ``cpu`` profile; its untrained copy too), so the random-init backbone is also probed at
that size (``random_backbone_at_hr_size``); ``srgan-d_at_profile_size`` is the trained
discriminator shown the profile's smaller images instead.

Usage::

    python benchmarks/srgan_synthbirds.py [--profile cpu] [--seeds 2] [--option key=value ...]

Prints one JSON object (and writes it to ``--out``/results.json); with ``--record NAME`` its
figures also become record ``NAME`` of the kit's reference results (``benchmarks/reference.py``):
PSNR of SRGAN and of bicubic up-scaling and the gain (dB, with their spread over seeds), and
each backbone's top-1 (linear and kNN, with their spread).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
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
from fgssl.methods.srgan import SRGAN
from fgssl.models.srgan_nets import DiscriminatorFeatures
from fgssl.study.runs import Run, backbone_for, pretrain

PROTOCOLS = ("linear", "knn")


def _option(text: str) -> tuple[str, Any]:
    """``key=value``: the value as JSON when it is (numbers, true/false), else a string."""
    key, _, value = text.partition("=")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--option", type=_option, action="append", default=[],
                        help="an SRGAN argument, e.g. --option discriminator_width=16")
    parser.add_argument("--out", type=Path, default=Path("runs/bench/srgan_synthbirds"))
    parser.add_argument("--record", metavar="NAME",
                        help="also write the figures to docs/reference_results.json as NAME")
    args = parser.parse_args()
    prof = get_profile(args.profile)
    options = dict(args.option)
    runs: dict[str, list[float]] = {}

    def note(key: str, value: float) -> None:
        runs.setdefault(key, []).append(value)

    for seed in range(args.seeds):
        start = time.perf_counter()
        method, history = pretrain(Run.of("srgan", prof, seed=seed, **options),
                                   args.out / f"srgan-seed{seed}", resume=False,
                                   progress_bar=False)
        note("pretrain_seconds", time.perf_counter() - start)
        test = catalog.dataset("synthbirds", "test", size=method.hr_size, profile=prof)
        quality = method.pretext_metrics(torch.stack([test[i][0] for i in range(len(test))]))
        for key, value in quality.items():
            note(f"test_{key}", value)
        note("psnr_gain_db", quality["psnr"] - quality["psnr_bicubic"])
        torch.manual_seed(seed)
        untrained = SRGAN.build(prof, **options)
        backbones = {f"srgan-{f}": method.feature_backbone(f) for f in ("d", "g")}
        backbones["srgan-d_at_profile_size"] = DiscriminatorFeatures(  # half its training size
            method.discriminator, input_size=prof.image_size)
        backbones |= {f"random_srgan-{f}": untrained.feature_backbone(f) for f in ("d", "g")}
        backbones["random_backbone"] = backbone_for("random", prof, seed)[1]
        at_hr_size = dataclasses.replace(prof, image_size=method.hr_size)
        backbones["random_backbone_at_hr_size"] = backbone_for("random", at_hr_size, seed)[1]
        for name, backbone in backbones.items():
            read_at = at_hr_size if name == "random_backbone_at_hr_size" else prof
            for protocol in PROTOCOLS:
                note(f"{name}_{protocol}",
                       evaluate_backbone(backbone, "synthbirds", read_at, protocol)["top1"])
    result: dict[str, Any] = {
        "profile": prof.name, "hr_size": method.hr_size, "scale": method.degradation.scale,
        "epochs": SRGAN.epochs_for(prof), "batch_size": SRGAN.batch_size_for(prof),
        "config": method.config(), "final_epoch": history[-1],
        **{key: summarise(values) for key, values in runs.items()}}
    for features, same_size in (("d", "random_backbone_at_hr_size"), ("g", "random_backbone")):
        result[f"srgan-{features}_gain_over_random_backbone"] = round(
            result[f"srgan-{features}_linear"]["mean"] - result[f"{same_size}_linear"]["mean"],
            4)
        result[f"srgan-{features}_gain_over_random_same_network"] = round(
            result[f"srgan-{features}_linear"]["mean"]
            - result[f"random_srgan-{features}_linear"]["mean"], 4)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result))
    if args.record:
        record(args.record, reference_figures(runs), sys.argv)


def reference_figures(runs: dict[str, list[float]]) -> dict[str, str]:
    """The figures the course quotes, as it writes them: each PSNR (``"27.00 dB"``) and the
    gain over bicubic with their spread over seeds (``"± 0.21"``), SSIM, and each backbone's
    linear and kNN top-1 with its spread (``"22.7%"``, ``"± 1.3"``)."""
    figures: dict[str, str] = {}
    for key in ("test_psnr", "test_psnr_bicubic", "psnr_gain_db"):
        figures[key] = f"{statistics.mean(runs[key]):.2f} dB"
        if len(runs[key]) > 1:
            figures[f"{key}.spread"] = f"± {statistics.stdev(runs[key]):.2f}"
    for key in ("test_ssim", "test_ssim_bicubic"):
        figures[key] = f"{statistics.mean(runs[key]):.3f}"
    for name in (k for k in runs if k.endswith(PROTOCOLS)):
        figures.update(top1_figures(name, runs[name]))
    return figures


if __name__ == "__main__":
    main()
