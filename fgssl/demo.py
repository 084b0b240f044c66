"""``fgssl demo``: the whole study in one command — the kit's main job.

It trains (or reuses from ``runs/``) every self-supervised method on the unlabelled pool —
SimCLR with the standard views and with the best fine-grained variant, Jigsaw, SRGAN (judged
through its discriminator, ``srgan-d``, and its generator, ``srgan-g``) — and sets them beside
the baselines: a random-init backbone, the same network trained with all labels
(``supervised``) and from scratch on each low-label budget (``scratch``), an
ImageNet-pretrained backbone when its weights are cached locally, and the majority-class
floor. Every backbone is evaluated by :func:`~fgssl.evaluate.protocol.evaluate_jobs` (choices
on val, test read once): linear probe and kNN at every label budget, fine-tuning at the
low-label point, over evaluation seeds.

Writes ``results.json``, ``results.md`` and ``label_efficiency.png`` to its folder, and keeps
each model's evaluation in ``evaluations/`` keyed by its checkpoint, so a second run with the
checkpoints in place takes seconds. Delete a file there to evaluate that model again.

Example::

    >>> results = run_demo("ci", out="runs/ci/synthbirds/demo")   # doctest: +SKIP
    >>> results["rows"][0]["top1_mean"]
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn
from tqdm.auto import tqdm

import fgssl
from fgssl.config import Profile, runs_root
from fgssl.config import profile as get_profile
from fgssl.data import catalog
from fgssl.evaluate.protocol import evaluate_jobs
from fgssl.evaluate.study import (
    floor_rows,
    label_fractions,
    markdown_table,
    rows_from_results,
    study_jobs,
)
from fgssl.methods.base import Method
from fgssl.methods.registry import backbone_for, default_out, finished_run, load_or_train
from fgssl.methods.srgan import SRGAN
from fgssl.models.backbones import NoImageNetWeights, imagenet_backbone
from fgssl.utils import atomic_write_json

BEST_VARIANT = "object_crop"  # SimCLR's best fine-grained variant on SynthBirds (notebook 04)
PRETRAINED = {  # entry -> (method, options) trained once (srgan-d and srgan-g share one)
    "simclr": ("simclr", {}), f"simclr-{BEST_VARIANT}": ("simclr", {"variant": BEST_VARIANT}),
    "jigsaw": ("jigsaw", {}), "srgan-d": ("srgan", {}), "srgan-g": ("srgan", {}),
    "supervised": ("supervised", {})}
ENTRIES = (*PRETRAINED, "random", "scratch", "imagenet")  # the table's order
NOT_FINETUNED = {  # entry -> why it gets no fine-tuning row
    "srgan-g": "its trunk keeps full resolution: fine-tuning it costs about 7x a small CNN's",
    "random": "the scratch row is a random init trained on the budget",
    "supervised": "it has seen every label already"}
DESCRIPTIONS = {
    "simclr": "SimCLR, standard views", f"simclr-{BEST_VARIANT}": f"SimCLR, {BEST_VARIANT} views",
    "jigsaw": "Jigsaw puzzles", "srgan-d": "SRGAN's discriminator",
    "srgan-g": "SRGAN's generator", "random": "random-init backbone (no training)",
    "supervised": "supervised on all training labels (its backbone probed at 100% only)",
    "scratch": "supervised from scratch on the same label budget, end to end",
    "imagenet": "ImageNet-pretrained weights (torchvision)",
    "majority class": "always the most frequent class of the labelled budget"}
PRETRAINING_SEED = 0


@dataclass
class Model:
    """A backbone to evaluate and where it came from."""

    backbone: nn.Module
    source: str  # "trained now", "reused from runs/", "random init", "ImageNet weights"
    checkpoint: str | None = None
    train_s: float = 0.0  # its training loop's seconds, summed over epochs (monitors apart)
    stage_s: float = 0.0  # seconds this run spent getting it (about 0 when reused)


def check_entries(methods: Sequence[str] | None) -> list[str]:
    """The study's entries to run, in their canonical order; unknown names are an error."""
    if not methods:
        return list(ENTRIES)
    unknown = sorted(set(methods) - set(ENTRIES))
    if unknown:
        raise ValueError(f"unknown --methods {', '.join(unknown)}: choose from "
                         f"{', '.join(ENTRIES)}")
    return [entry for entry in ENTRIES if entry in methods]


def _training(entry: str) -> str:
    """The pretraining run an entry needs, as a name: ``simclr variant=object_crop``."""
    name, options = PRETRAINED[entry]
    return " ".join([name, *(f"{k}={v}" for k, v in options.items())])


def _trainings(entries: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """The pretraining runs the entries need, each once: name -> (method, options)."""
    return {_training(e): PRETRAINED[e] for e in entries if e in PRETRAINED}


def run_demo(profile: str | Profile | None = None, data: str = "synthbirds",
             root: str | None = None, out: str | Path | None = None,
             methods: Sequence[str] | None = None, seeds: int = 2, progress: bool = True,
             log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the study; returns what ``results.json`` holds."""
    started = time.perf_counter()
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    entries = check_entries(methods)
    if seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {seeds}")
    out = Path(out) if out is not None else runs_root() / prof.name / data / "demo"
    skipped = {}
    if "imagenet" in entries:
        try:
            imagenet = Model(imagenet_backbone(prof.backbone, prof.image_size),
                             "ImageNet weights")
        except NoImageNetWeights as reason:
            skipped["imagenet"] = str(reason)
            log(f"fgssl demo: skipping the ImageNet baseline: {reason}")
    if set(entries) <= set(skipped):
        raise ValueError(f"nothing left to evaluate: {'; '.join(skipped.values())}; "
                         "choose other --methods")
    stage = _stage_logger(len(_trainings(entries)) + 2, log)
    stage(f"data: {data} for the {prof.name} profile")
    info = catalog.prepare(data, root, prof.name)
    train_labels = np.asarray(catalog.dataset(data, "train", root, size=prof.image_size,
                                              profile=prof).labels)
    fractions = label_fractions(train_labels, prof)
    log(f"  {info['num_classes']} classes, splits {info['splits']}; label budgets "
        f"{', '.join(f'{f:.0%}' for f in fractions)} (the low-label point: at most "
        f"{round(fractions[-1] * np.bincount(train_labels).max())} images per class)")

    models = _models(entries, prof, data, root, progress, stage)
    if "imagenet" in entries and not skipped:
        models["imagenet"] = imagenet
    count = len(models) + ("scratch" in entries)
    stage(f"evaluating {count} models over {seeds} evaluation seeds: linear probe and kNN on "
          "frozen features at every budget, fine-tuning at the low-label point")
    evaluated = _evaluate(entries, models, prof, data, root, fractions, seeds, out, progress)
    rows = [row for results, seconds, entry in evaluated
            for row in rows_from_results(entry, results, seconds)]
    rows += floor_rows([r for results, _, _ in evaluated for r in results])
    results = {
        "profile": prof.name, "data": data, "date": time.strftime("%Y-%m-%d"),
        "fgssl": fgssl.__version__, "wall_s": round(time.perf_counter() - started, 1),
        "compute_s": round(sum({m.checkpoint: m.train_s for m in models.values()}.values())
                           + sum(seconds for _, seconds, _ in evaluated), 1),
        "fractions": list(fractions), "low_label_fraction": fractions[-1],
        "evaluation_seeds": seeds, "pretraining_seeds": [PRETRAINING_SEED],
        "not_finetuned": {e: why for e, why in NOT_FINETUNED.items() if e in entries},
        "pretraining_note": "one pretraining run per method in every profile: the ± is over "
                            "evaluation seeds (label subsets, probe and classifier "
                            "initialisation); benchmarks/*_synthbirds.py measure the spread "
                            "over pretraining seeds",
        "models": {name: {"description": DESCRIPTIONS[name], "source": model.source,
                          "checkpoint": model.checkpoint, "train_s": round(model.train_s, 1),
                          "stage_s": round(model.stage_s, 1)}
                   for name, model in models.items()},
        "skipped": skipped, "rows": rows}
    _write_outputs(results, out)
    log("\n" + markdown_table(rows))
    log(f"\nfgssl demo: {results['wall_s']:.0f} s; results in {out}")
    return results


def _stage_logger(total: int, log: Callable[[str], None]) -> Callable[[str], None]:
    """A logger that numbers the stages and says how long the run has taken so far:
    ``[3/8, 95 s] training jigsaw ...`` (each training's own bar gives its ETA)."""
    begun, number = time.perf_counter(), itertools.count(1)

    def stage(text: str) -> None:
        log(f"[{next(number)}/{total}, {time.perf_counter() - begun:.0f} s] {text}")
    return stage


def _models(entries: list[str], prof: Profile, data: str, root: str | None, progress: bool,
            stage: Callable[[str], None]) -> dict[str, Model]:
    """The trained backbones (trained now or reused) and the random init, by entry."""
    trained: dict[str, tuple[Method, Model]] = {}
    for what, (name, options) in _trainings(entries).items():
        finished = finished_run(name, prof, data, seed=PRETRAINING_SEED, **options)
        stage(f"training {what}: " + (f"reusing {finished}" if finished else
                                      f"{prof.epochs_for(name)} epoch(s)"))
        begun = time.perf_counter()
        method = load_or_train(name, prof, data, root, seed=PRETRAINING_SEED,
                               progress=progress, **options)
        checkpoint = default_out(name, prof, data, seed=PRETRAINING_SEED, **options)
        trained[what] = method, Model(
            method.backbone, "reused from runs/" if finished else "trained now",
            str(checkpoint), sum(r["seconds"] for r in method.history),
            time.perf_counter() - begun)
    models = {}
    for entry in (e for e in entries if e in PRETRAINED):
        method, model = trained[_training(entry)]
        backbone = method.feature_backbone(entry[-1]) if isinstance(method, SRGAN) \
            else method.backbone
        models[entry] = Model(backbone, model.source, model.checkpoint, model.train_s,
                              model.stage_s)
    if "random" in entries:
        models["random"] = Model(backbone_for("random", prof, PRETRAINING_SEED)[1],
                                 "random init")
    return models


def _evaluate(entries: list[str], models: dict[str, Model], prof: Profile, data: str,
              root: str | None, fractions: tuple[float, ...], seeds: int, out: Path,
              progress: bool) -> list[tuple[list[dict[str, Any]], float, str]]:
    """``(results, seconds, entry)`` per entry evaluated, in order; a model evaluated the
    same way before is read back from ``out/evaluations/``."""
    low = fractions[-1]
    evaluated = []
    todo = [e for e in entries if e in models or e == "scratch"]
    for entry in tqdm(todo, desc="evaluating", unit="model", disable=not progress):
        if entry == "scratch":  # a random init per seed, trained on its label budget
            jobs = study_jobs((), seeds, finetune_at=(low,))
        elif entry == "supervised":  # it has seen all labels: probed with all of them
            jobs = study_jobs((1.0,), seeds)
        else:
            jobs = study_jobs(fractions, seeds,
                              finetune_at=() if entry in NOT_FINETUNED else (low,))
        key = {"fgssl": fgssl.__version__, "profile": prof.name, "data": data,
               "root": str(root), "jobs": [list(job) for job in jobs],
               "model": _fingerprint(models[entry].checkpoint) if entry in models else None}
        cache = out / "evaluations" / f"{entry}.json"
        saved = json.loads(cache.read_text()) if cache.is_file() else {}
        if saved.get("key") != key:
            begun = time.perf_counter()
            if entry == "scratch":
                results = [r for seed in range(seeds) for r in evaluate_jobs(
                    backbone_for("random", prof, seed)[1], data, prof,
                    [job for job in jobs if job.seed == seed], root, backbone_lr_factor=1.0)]
            else:
                results = evaluate_jobs(models[entry].backbone, data, prof, jobs, root)
            saved = {"key": key, "results": results, "wall_s": time.perf_counter() - begun}
            atomic_write_json(saved, cache)
        evaluated.append((saved["results"], saved["wall_s"], entry))
    return evaluated


def _fingerprint(checkpoint: str | None) -> dict[str, Any] | None:
    """What identifies a checkpoint's contents well enough to reuse its evaluation."""
    if checkpoint is None:
        return None
    path = Path(checkpoint) / "checkpoint.pt"
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _write_outputs(results: dict[str, Any], out: Path) -> None:
    """results.json, results.md (the table and what each row is) and label_efficiency.png."""
    from fgssl.viz.results import label_efficiency  # matplotlib: only when writing figures

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(results, out / "results.json")
    legend = []
    for name in dict.fromkeys(row["method"] for row in results["rows"]):
        model = results["models"].get(name)
        how = f" ({model['source']}; training loop {model['train_s']:.0f} s)" \
            if model and model["train_s"] else ""
        why = results["not_finetuned"].get(name)
        legend.append(f"- **{name}**: {DESCRIPTIONS[name]}{how}"
                      + (f"; not fine-tuned: {why}" if why else ""))
    legend += [f"- *{name} skipped*: {why}" for name, why in results["skipped"].items()]
    (out / "results.md").write_text(
        f"# fgssl demo: {results['data']}, {results['profile']} profile, {results['date']}\n\n"
        f"Test top-1 accuracy (%), mean ± std over {results['evaluation_seeds']} evaluation "
        "seeds (label subsets and initialisations; at 100% labels a frozen probe sees the same "
        f"data whatever the seed, hence ± 0); every choice made on val. This run took "
        f"{results['wall_s']:.0f} s; the models' training loops and evaluations "
        f"{results['compute_s']:.0f} s in all (with any reused from earlier runs).\n\n"
        f"{markdown_table(results['rows'])}\n\n"
        + "\n".join(legend) + "\n")
    figure = label_efficiency(results["rows"])
    figure.savefig(out / "label_efficiency.png", dpi=120, bbox_inches="tight")
