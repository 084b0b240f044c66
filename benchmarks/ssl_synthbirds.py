"""Self-supervised methods side by side on SynthBirds: pretraining time and what the features
know, over pretraining seeds.

For each method (a registered name, with settings as ``name:key=value,key=value``; ``epochs``,
``batch_size`` and ``lr`` there set that method's schedule) and seed: pretraining on the
unlabelled pool through ``fgssl.study.runs.pretrain`` (seed by seed, every method at a seed
before the next seed, so that a machine's drift in speed reaches them alike; timed: the
training loop's seconds, monitors apart, and the whole call), then linear probes on the frozen
backbone with all train labels (their val accuracy too, to choose a schedule on val, and the
sibling accuracy: how often the probe tells the two species of a pair apart) and at
``--per-class`` labels per species (the same label subset for every method at a seed). The
random-init backbone is probed the same way, as the floor each method is read against;
``time_ratio`` is a method's median training time over that of ``--reference`` (SimCLR
``object_crop``, the budget's yardstick). Threads: as the process has them (``--threads``).
Each run's line names the autocast dtype the runs train in (bf16 only where the CPU has it
natively: it changes both speed and numerics). With ``--reuse``, a run already finished under
``--out`` is probed again rather than trained again (its seconds are those it recorded when it
trained), and a cut-off one continues from its last epoch: to add a method or a figure to a
sweep, or finish one that was stopped.

Usage::

    python benchmarks/ssl_synthbirds.py --methods simclr byol byol:momentum=0 --seeds 3
        [--first-seed 0] [--profile cpu] [--per-class 10] [--epochs N] [--lr LR] [--batch B]
        [--threads 2] [--out DIR] [--reuse] [--record NAME]

Prints one JSON object (and writes it to ``--out``/results.json); with ``--record NAME`` its
figures also become record ``NAME`` of the kit's reference results (``benchmarks/reference.py``).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from reference import percent, points, record, spread

from fgssl.config import profile as get_profile
from fgssl.evaluate.metrics import summarise
from fgssl.evaluate.protocol import evaluate_backbone
from fgssl.optimisation import precision
from fgssl.study.runs import Run, backbone_for, pretrain


def _parse(spec: str) -> tuple[str, dict[str, Any]]:
    """``byol:momentum=0,hidden_dim=256`` -> ("byol", {"momentum": 0, "hidden_dim": 256});
    ``epochs``, ``batch_size`` and ``lr`` among them set that method's run (over ``--epochs``,
    ``--batch``, ``--lr``); a comma inside brackets belongs to its value:
    ``dino:global_scale=(0.14,1.0)``."""
    name, _, rest = spec.partition(":")
    options = {}
    for pair in filter(None, re.split(r",(?![^()\[\]]*[)\]])", rest)):
        key, _, value = pair.partition("=")
        try:
            options[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[key] = value  # a plain word: a string setting
    return name, options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", required=True)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first .. first + n - 1")
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--epochs", type=int, help="default: each method's schedule")
    parser.add_argument("--lr", type=float, help="default: each method's")
    parser.add_argument("--batch", type=int, help="default: each method's batch size")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reference", default="simclr:variant=object_crop",
                        help="the method whose median training time the others are read "
                             "against (time_ratio), when it is among --methods")
    parser.add_argument("--record", metavar="NAME",
                        help="also write the figures to docs/reference_results.json as NAME")
    parser.add_argument("--out", type=Path, default=Path("runs/bench/ssl_synthbirds"))
    parser.add_argument("--reuse", action="store_true",
                        help="probe the runs already finished under --out, continue cut-off ones")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    prof = get_profile(args.profile)
    low = args.per_class / prof.train_per_class

    def probes(backbone: torch.nn.Module, seed: int) -> dict[str, float]:
        everything = evaluate_backbone(backbone, "synthbirds", prof, "linear", 1.0, seed)
        return {"linear_all": everything["top1"], "linear_all_val": everything["val_top1"],
                "sibling_all": everything["sibling_accuracy"],
                "linear_low": evaluate_backbone(backbone, "synthbirds", prof, "linear",
                                                low, seed)["top1"]}

    autocast = str(getattr(precision(torch.device("cpu"), amp=True)[0], "fast_dtype",
                           torch.float32)).removeprefix("torch.")  # what the runs train in
    result: dict[str, Any] = {"profile": prof.name, "threads": args.threads, "autocast": autocast,
                              "seeds": args.seeds, "first_seed": args.first_seed,
                              "per_class": args.per_class, "low_fraction": low, "methods": {}}
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    random = [probes(backbone_for("random", prof, seed)[1], seed) for seed in seeds]
    result["random"] = {key: summarise([r[key] for r in random]) for key in random[0]}
    specs = {spec: _parse(spec) for spec in args.methods}
    runs: dict[str, list[dict[str, Any]]] = {spec: [] for spec in specs}
    for seed in seeds:  # seed-major: every method sees the machine's drift alike
        for spec, (name, options) in specs.items():
            if runs[spec] and "error" in runs[spec][-1]:
                continue
            started = time.perf_counter()
            try:
                method, history = pretrain(
                    Run.of(name, prof, seed=seed, **{"epochs": args.epochs,
                                                     "batch_size": args.batch, "lr": args.lr,
                                                     **options}),
                    args.out / spec.replace(":", "_") / f"seed{seed}", resume=args.reuse,
                    progress_bar=False)
            except FloatingPointError as error:  # a diverged run is a result too
                runs[spec].append({"error": str(error)})
                continue
            runs[spec].append({"call_s": time.perf_counter() - started,
                               "train_s": sum(r["seconds"] for r in history),
                               "epochs": len(history), **probes(method.backbone, seed),
                               "last": {k: v for k, v in history[-1].items()
                                        if isinstance(v, float)}})
            print(json.dumps({"method": spec, "seed": seed, "autocast": autocast, **{
                k: round(v, 4) for k, v in runs[spec][-1].items() if isinstance(v, float)}}),
                flush=True)
    for spec, done in runs.items():
        if "error" in done[-1]:
            result["methods"][spec] = {"error": done[-1]["error"]}
            continue
        summary = {key: summarise([run[key] for run in done])
                   for key in ("train_s", "call_s", "linear_all", "linear_all_val",
                               "sibling_all", "linear_low")}
        summary["over_random_linear_all"] = [
            round(run["linear_all"] - r["linear_all"], 4) for run, r in zip(done, random,
                                                                            strict=True)]
        summary["epochs"] = done[0]["epochs"]
        summary["last_epoch"] = done[0]["last"]
        result["methods"][spec] = summary
    if args.reference in result["methods"] and "error" not in result["methods"][args.reference]:
        reference = statistics.median(result["methods"][args.reference]["train_s"]["values"])
        for summary in result["methods"].values():
            if "error" not in summary:
                summary["time_ratio"] = round(
                    statistics.median(summary["train_s"]["values"]) / reference, 3)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(result, indent=1))
    if args.record:
        record(args.record, reference_figures(result), sys.argv)
    print(json.dumps(result))


def reference_figures(result: dict[str, Any]) -> dict[str, str]:
    """The figures the course quotes from a result: per method (and random init) the mean
    top-1 with all labels and at ``per_class`` labels, their spread over seeds, the sibling
    accuracy with all labels, each seed's gain over random init, and the training time's range
    and ratio to the reference."""
    figures: dict[str, str] = {}
    for name, summary in {"random": result["random"], **result["methods"]}.items():
        if "error" in summary:
            continue
        for key in ("linear_all", "linear_low", "sibling_all"):
            figures[f"{name}.{key}"] = percent(summary[key]["mean"])
            if summary[key]["n"] > 1:
                figures[f"{name}.{key}.spread"] = spread(summary[key]["values"])
        for seed, gain in enumerate(summary.get("over_random_linear_all", []),
                                    start=result["first_seed"]):
            figures[f"{name}.over_random.seed{seed}"] = points(gain)
        if "train_s" in summary:
            seconds = summary["train_s"]["values"]
            figures[f"{name}.train_s"] = f"{min(seconds):.0f}–{max(seconds):.0f} s"
        if "time_ratio" in summary:
            figures[f"{name}.time_ratio"] = f"{summary['time_ratio']:.2f}×"
    return figures


if __name__ == "__main__":
    main()
