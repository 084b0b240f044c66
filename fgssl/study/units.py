"""The units of work ``fgssl demo`` hands to its workers.

A *unit* is a pretraining run and the evaluations of the entries it serves (``srgan-d`` and
``srgan-g`` share one SRGAN), or an evaluation alone (an untrained network, ImageNet
weights, or an entry trained end to end on each label budget). :func:`run_unit` trains (or
reuses) the unit's model, then evaluates each of its entries with
:func:`~fgssl.evaluate.protocol.evaluate_jobs` and draws its figures
(:func:`~fgssl.study.figures.feature_views`); each entry's evaluation is kept in
``<out>/evaluations/<entry>.json`` (:mod:`fgssl.study.cache`), so that a later run reads it
back (:func:`is_ready`).
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from fgssl.config import VERSION, Profile
from fgssl.evaluate.comparison import study_jobs
from fgssl.evaluate.features import FrozenFeatures
from fgssl.evaluate.finetune import FINETUNE
from fgssl.evaluate.protocol import Job, evaluate_jobs
from fgssl.files import atomic_write_json
from fgssl.methods import registry
from fgssl.methods.registry import method_class
from fgssl.models.backbones import imagenet_backbone
from fgssl.study import cache
from fgssl.study.entries import StudyEntry, study_entries
from fgssl.study.runs import (
    Run,
    backbone_for,
    finished_run,
    load_or_train,
    training_estimate,
    untrained,
)
from fgssl.workers import Report

PRETRAINING_SEED = 0


@dataclass(frozen=True)
class Unit:
    """What one worker does alone: a pretraining run, if the entries need one, then their
    evaluations."""

    entries: tuple[str, ...]

    @property
    def first(self) -> StudyEntry:
        return study_entries()[self.entries[0]]

    @property
    def training(self) -> str | None:
        return self.first.pretraining

    def plan(self, settings: Settings) -> str:
        """What it is about to do, in words."""
        if self.training is None:
            return "evaluating" + (" (trained on each budget)" if self.first.entry.end_to_end
                                   else "")
        run = pretraining_run(self.first, settings)
        finished = finished_run(run)
        how = f"reusing {finished}" if finished else \
            f"training {self.training}, {run.planned_epochs} epoch(s)"
        return f"{how}, then evaluating"

    def estimate(self, settings: Settings) -> str | None:
        """How long training its model takes on this machine, in words
        (:func:`~fgssl.study.runs.training_estimate`, timed now); ``None`` when it trains
        nothing or its model is already trained."""
        if self.training is None:
            return None
        run = pretraining_run(self.first, settings)
        return None if finished_run(run) else training_estimate(run, run.folder)


@dataclass(frozen=True)
class Settings:
    """What every unit of one run shares (picklable: workers receive it). ``added``: the
    method classes registered at run time where the run started, registered in the workers
    too."""

    profile: Profile  # at the run's image size
    data: str
    root: str | None
    fractions: tuple[float, ...]
    seeds: int
    out: Path
    end_to_end_at: tuple[float, ...]  # budgets of the end-to-end entries (scratch, pmg)
    dataset: dict[str, Any]  # the data's identity, read once (DatasetIdentity.as_record)
    added: tuple[type, ...] = ()


@dataclass
class UnitResult:
    """A unit's models (where each came from) and evaluations, and the warnings it raised."""

    models: dict[str, dict[str, Any]]  # entry -> source, checkpoint, train_s, stage_s
    evaluations: dict[str, dict[str, Any]]  # entry -> results, wall_s, figures, figures_s
    warnings: list[str]


def pretraining_run(item: StudyEntry, settings: Settings) -> Run:
    """The pretraining run a study entry's model comes from (it must have one)."""
    assert item.method is not None
    return Run.of(item.method, settings.profile, settings.data, settings.root,
                  seed=PRETRAINING_SEED, **dict(item.entry.options))


def units_for(entries: Sequence[str]) -> list[Unit]:
    """The entries grouped by the pretraining run they share, costliest first (so that
    parallel workers finish at about the same time)."""
    table = study_entries()
    groups: dict[str, list[str]] = {}
    for name in sorted(entries, key=lambda name: -table[name].entry.cost):
        groups.setdefault(table[name].pretraining or name, []).append(name)
    return [Unit(tuple(group)) for group in groups.values()]


def run_unit(settings: Settings, unit: Unit, report: Report) -> UnitResult:
    """Train (or reuse) the unit's model and evaluate its entries; warnings are returned,
    to be raised where the run was started."""
    for cls in settings.added:  # a worker process starts with the built-in methods only
        if cls not in registry.runtime_added():
            registry.register(cls)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        backbones, models = _backbones(unit, settings, report)
        evaluations = {}
        for entry in unit.entries:
            evaluations[entry] = _evaluate(entry, backbones.get(entry), settings, report)
    return UnitResult(models, evaluations, list(dict.fromkeys(str(w.message) for w in caught)))


def _backbones(unit: Unit, settings: Settings, report: Report
               ) -> tuple[dict[str, nn.Module], dict[str, dict[str, Any]]]:
    """The unit's backbones by entry, trained now or reused, and where each came from."""
    prof, first = settings.profile, unit.first
    weights, name = first.entry.weights, first.name
    if weights == "imagenet":
        backbone = imagenet_backbone(prof.backbone, prof.image_size)
        return {name: backbone}, {name: _origin("ImageNet weights")}
    if first.entry.end_to_end:  # its networks are made per evaluation seed
        return {}, {}
    if weights == "random":
        backbone = untrained(method_class(first.method), prof, first.entry.features,
                             PRETRAINING_SEED) if first.method is not None else \
            backbone_for("random", prof, PRETRAINING_SEED)[1]
        return {name: backbone}, {name: _origin("random init")}
    run = pretraining_run(first, settings)
    finished = finished_run(run)
    report("phase", f"{unit.training}: " + ("loading" if finished else "training"))
    begun = time.perf_counter()
    method = load_or_train(run, progress_bar=False, on_step=functools.partial(report, "steps"),
                           say=None)  # the demo reports its own progress and ETA
    origin = _origin("reused from runs/" if finished else "trained now",
                     _checkpoint(name, settings),
                     sum(r["seconds"] for r in method.history), time.perf_counter() - begun)
    table = study_entries()
    backbones = {entry: method.feature_backbone(table[entry].entry.features)
                 for entry in unit.entries}
    return backbones, dict.fromkeys(unit.entries, origin)


def _origin(source: str, checkpoint: str | None = None, train_s: float = 0.0,
            stage_s: float = 0.0) -> dict[str, Any]:
    """Where a model came from: ``source`` ("trained now", "reused from runs/", "random
    init", "ImageNet weights"), its checkpoint folder, its training loop's seconds (summed
    over epochs, monitors apart) and the seconds this run spent getting it."""
    return {"source": source, "checkpoint": checkpoint, "train_s": round(train_s, 1),
            "stage_s": round(stage_s, 1)}


def is_ready(unit: Unit, settings: Settings) -> bool:
    """Nothing to compute: its training (if any) is finished and every evaluation cached."""
    if unit.training is not None and finished_run(pretraining_run(unit.first, settings)) is None:
        return False
    return all(_complete(entry, _cached(entry, settings), settings) for entry in unit.entries)


def _checkpoint(entry: str, settings: Settings) -> str | None:
    """The folder of the pretraining run an entry's model comes from, if any."""
    item = study_entries()[entry]
    if item.pretraining is None:
        return None
    return str(pretraining_run(item, settings).folder)


def _jobs(entry: str, settings: Settings) -> list[Job]:
    """What an entry is evaluated with: every budget, fine-tuning at the low-label one."""
    seeds, low, declared = settings.seeds, settings.fractions[-1], study_entries()[entry].entry
    if declared.end_to_end:  # trained on its label budget
        return study_jobs((), seeds, finetune_at=settings.end_to_end_at)
    if declared.all_labels_only:  # it has seen all labels: probed with all of them
        return study_jobs((1.0,), seeds)
    return study_jobs(settings.fractions, seeds,
                      finetune_at=() if declared.not_finetuned else (low,))


def _cache_key(entry: str, settings: Settings) -> dict[str, Any]:
    """What an evaluation depends on: the kit's version and evaluation code, profile and
    image size, the dataset's identity (where it is and what it holds), jobs and model."""
    return {"fgssl": VERSION, "code": cache.code_fingerprint(),
            "profile": settings.profile.name, "image_size": settings.profile.image_size,
            "data": settings.dataset,
            "jobs": [list(job) for job in _jobs(entry, settings)],
            "model": cache.checkpoint_fingerprint(_checkpoint(entry, settings))}


def _cached(entry: str, settings: Settings) -> dict[str, Any] | None:
    """An entry's evaluation saved in ``out/evaluations/`` for the same key, if any."""
    return cache.read(settings.out / "evaluations" / f"{entry}.json",
                      _cache_key(entry, settings))


def _complete(entry: str, saved: dict[str, Any] | None, settings: Settings) -> bool:
    """Whether a saved evaluation has its results and, for a backbone, its figures."""
    if saved is None or "results" not in saved:
        return False
    return study_entries()[entry].entry.end_to_end is not None or ("figures" in saved and all(
        (settings.out / name).is_file() for name in saved["figures"]["files"]))


def _evaluate(entry: str, backbone: nn.Module | None, settings: Settings, report: Report
              ) -> dict[str, Any]:
    """An entry's evaluation — ``results`` and their ``wall_s``; for a backbone also its
    ``figures`` (:func:`~fgssl.study.figures.feature_views`) and ``figures_s`` — computed, or
    read back from ``out/evaluations/`` when a run saved it for the same key."""
    saved = _cached(entry, settings) or {"key": _cache_key(entry, settings)}
    if _complete(entry, saved, settings):
        return saved
    prof, begun, declared = settings.profile, time.perf_counter(), study_entries()[entry].entry
    features: FrozenFeatures = {}  # extracted once, for the probes and the figures
    if "results" not in saved:
        report("phase", f"{entry}: evaluating")
        jobs, recipe = _jobs(entry, settings), declared.end_to_end or FINETUNE
        steps = functools.partial(report, "steps")  # each end-to-end training in turn
        if declared.end_to_end and declared.weights == "random":  # a new init per seed
            results = [r for seed in range(settings.seeds) for r in evaluate_jobs(
                backbone_for("random", prof, seed)[1], settings.data, prof,
                [job for job in jobs if job.seed == seed], settings.root, recipe=recipe,
                on_step=steps)]
        else:
            assert backbone is not None
            results = evaluate_jobs(backbone, settings.data, prof, jobs, settings.root,
                                    recipe=recipe, on_step=steps, features=features)
        saved.update(results=results, wall_s=time.perf_counter() - begun)
    if not declared.end_to_end:
        from fgssl.study.figures import FIGURES, feature_views  # matplotlib: only when drawing

        assert backbone is not None
        report("phase", f"{entry}: figures")
        begun = time.perf_counter()
        chosen_c = next(r["C"] for r in saved["results"]
                        if r["protocol"] == "linear" and r["labels"] == 1.0)
        numbers = feature_views(backbone, settings.data, prof, settings.root, settings.out,
                                entry, C=chosen_c, features=features)
        saved.update(figures={"files": [f"{kind}_{entry}.png" for kind in FIGURES],
                              **numbers}, figures_s=time.perf_counter() - begun)
    atomic_write_json(saved, settings.out / "evaluations" / f"{entry}.json")
    return saved


def say_estimates(units: list[Unit], settings: Settings, workers: int,
                  log: Callable[[str], None]) -> None:
    """Log how long training each of ``units``' models takes here, timed now, before any
    worker starts (so that the timings do not share the machine with training)."""
    estimates = [(unit, unit.estimate(settings)) for unit in units]
    estimates = [(unit, text) for unit, text in estimates if text is not None]
    if not estimates:
        return
    log("  how long each model takes to train here, alone" + (
        f" ({workers} side by side share the cores: each takes longer)" if workers > 1
        else "") + ":")
    for unit, text in estimates:
        log(f"    {', '.join(unit.entries)}: {text}")
