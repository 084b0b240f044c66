"""The study's entries — what each is, how it is trained and how it is evaluated — and the
units of work that ``fgssl demo`` hands to its workers.

A *unit* is a pretraining run and the evaluations of the entries it serves (``srgan-d`` and
``srgan-g`` share one SRGAN), or an evaluation alone (``random``, ``random-srgan-d``,
``scratch``, ``imagenet``, and the opt-in PMG baselines ``pmg`` and ``pmg-imagenet``, trained
end to end on each label budget like ``scratch``). :func:`run_unit` trains (or reuses) the
unit's model, then evaluates each of its entries with
:func:`~fgssl.evaluate.protocol.evaluate_jobs` and draws its figures
(:func:`~fgssl.viz.summary.feature_views`); each entry's evaluation is kept in
``<out>/evaluations/<entry>.json``, keyed by the checkpoint it judged and by the code that
judged it, so that a later run reads it back (:func:`is_ready`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

import fgssl
from fgssl.config import Profile
from fgssl.evaluate.finetune import FINETUNE, FROM_SCRATCH, PMG_FROM_SCRATCH, PMG_PRETRAINED
from fgssl.evaluate.protocol import Job, evaluate_jobs
from fgssl.evaluate.study import study_jobs
from fgssl.methods.registry import backbone_for, default_out, finished_run, load_or_train
from fgssl.methods.srgan import SRGAN
from fgssl.models.backbones import imagenet_backbone
from fgssl.utils import atomic_write_json
from fgssl.workers import Report

BEST_VARIANT = "object_crop"  # SimCLR's best fine-grained variant on SynthBirds (notebook 04)
PRETRAINED = {  # entry -> (method, options) trained once (srgan-d and srgan-g share one)
    "simclr": ("simclr", {}), f"simclr-{BEST_VARIANT}": ("simclr", {"variant": BEST_VARIANT}),
    "jigsaw": ("jigsaw", {}), "srgan-d": ("srgan", {}), "srgan-g": ("srgan", {}),
    "supervised": ("supervised", {})}
ENTRIES = (*PRETRAINED, "random", "random-srgan-d", "scratch", "pmg", "pmg-imagenet",
           "imagenet")  # table order
RANDOM_INIT = {"random": None, "random-srgan-d": "d"}  # entry -> SRGAN network (None: backbone)
OPT_IN = ("pmg", "pmg-imagenet")  # run only when asked for (--methods): PMG is slow on a CPU
IMAGENET = ("imagenet", "pmg-imagenet")  # need torchvision's cached ImageNet weights
END_TO_END = {  # entry -> how it trains on each label budget; it has no frozen backbone
    "scratch": FROM_SCRATCH, "pmg": PMG_FROM_SCRATCH, "pmg-imagenet": PMG_PRETRAINED}
FROM_RANDOM_INIT = ("scratch", "pmg")  # a random init per evaluation seed
NOT_FINETUNED = {  # entry -> why it gets no fine-tuning row
    "srgan-g": "its trunk keeps full resolution: fine-tuning it costs about 7x a small CNN's",
    "random": "the scratch row is a random init trained on the budget",
    "random-srgan-d": "it is the untrained reference for srgan-d's frozen features",
    "supervised": "it has seen every label already"}
DESCRIPTIONS = {
    "simclr": "SimCLR, standard views", f"simclr-{BEST_VARIANT}": f"SimCLR, {BEST_VARIANT} views",
    "jigsaw": "Jigsaw puzzles",
    "srgan-d": "SRGAN's discriminator, shown images at the size it judged in training (its "
               "high-resolution size: 64 px in the ci and cpu profiles, where the other rows "
               "see 32 px)",
    "srgan-g": "SRGAN's generator", "random": "random-init backbone (no training)",
    "random-srgan-d": "SRGAN's discriminator untrained (seeded), at srgan-d's image size: "
                      "what srgan-d's training adds",
    "supervised": "supervised on all training labels (its backbone probed at 100% only)",
    "scratch": "supervised from scratch on the same label budget, end to end",
    "pmg": "PMG (progressive multi-granularity jigsaw patches, Du et al. 2020) from scratch "
           "on the same label budget, end to end",
    "pmg-imagenet": "PMG from ImageNet weights on the label budget, end to end (the study's "
                    "baseline, at this profile's resolution)",
    "imagenet": "ImageNet-pretrained weights (torchvision)",
    "majority class": "always the most frequent class of the labelled budget"}
PRETRAINING_SEED = 0


LONGEST_FIRST = ("pmg", "pmg-imagenet", "srgan-d", "srgan-g", f"simclr-{BEST_VARIANT}", "simclr",
                 "jigsaw", "supervised", "scratch", "imagenet", "random-srgan-d",
                 "random")  # measured, cpu


@dataclass(frozen=True)
class Unit:
    """What one worker does alone: a pretraining run, if the entries need one, then their
    evaluations (``srgan-d`` and ``srgan-g`` share one SRGAN)."""

    entries: tuple[str, ...]

    @property
    def training(self) -> str | None:
        return _training(self.entries[0]) if self.entries[0] in PRETRAINED else None

    def plan(self, prof: Profile, data: str) -> str:
        """What it is about to do, in words."""
        if self.training is None:
            return "evaluating" + (" (trained on each budget)"
                                   if self.entries[0] in END_TO_END else "")
        name, options = PRETRAINED[self.entries[0]]
        finished = finished_run(name, prof, data, seed=PRETRAINING_SEED, **options)
        how = f"reusing {finished}" if finished else \
            f"training {self.training}, {prof.epochs_for(name)} epoch(s)"
        return f"{how}, then evaluating"


@dataclass(frozen=True)
class Settings:
    """What every unit of one run shares (picklable: workers receive it)."""

    profile: Profile
    data: str
    root: str | None
    fractions: tuple[float, ...]
    seeds: int
    out: Path
    end_to_end_at: tuple[float, ...]  # budgets of the end-to-end entries (scratch, pmg)


@dataclass
class UnitResult:
    """A unit's models (where each came from) and evaluations, and the warnings it raised."""

    models: dict[str, dict[str, Any]]  # entry -> source, checkpoint, train_s, stage_s
    evaluations: dict[str, dict[str, Any]]  # entry -> results, wall_s, figures, figures_s
    warnings: list[str]


def check_entries(methods: Sequence[str] | None) -> list[str]:
    """The study's entries to run, in their canonical order (by default all but the opt-in
    ones); unknown names are an error."""
    if not methods:
        return [entry for entry in ENTRIES if entry not in OPT_IN]
    unknown = sorted(set(methods) - set(ENTRIES))
    if unknown:
        raise ValueError(f"unknown --methods {', '.join(unknown)}: choose from "
                         f"{', '.join(ENTRIES)}")
    return [entry for entry in ENTRIES if entry in methods]


def _training(entry: str) -> str:
    """The pretraining run an entry needs, as a name: ``simclr variant=object_crop``."""
    name, options = PRETRAINED[entry]
    return " ".join([name, *(f"{k}={v}" for k, v in options.items())])


def units_for(entries: Sequence[str]) -> list[Unit]:
    """The entries grouped by the pretraining run they share, longest first (so that
    parallel workers finish at about the same time)."""
    groups: dict[str, list[str]] = {}
    for entry in sorted(entries, key=LONGEST_FIRST.index):
        groups.setdefault(_training(entry) if entry in PRETRAINED else entry, []).append(entry)
    return [Unit(tuple(group)) for group in groups.values()]


def run_unit(settings: Settings, unit: Unit, report: Report) -> UnitResult:
    """Train (or reuse) the unit's model and evaluate its entries; warnings are returned,
    to be raised where the run was started."""
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
    prof, entries = settings.profile, unit.entries
    if entries[0] in RANDOM_INIT:
        backbone = backbone_for("random", prof, PRETRAINING_SEED, RANDOM_INIT[entries[0]])[1]
        return {entries[0]: backbone}, {entries[0]: _origin("random init")}
    if entries[0] in IMAGENET:
        backbone = imagenet_backbone(prof.backbone, prof.image_size)
        return {entries[0]: backbone}, {entries[0]: _origin("ImageNet weights")}
    if unit.training is None:  # scratch, pmg: their networks are made per evaluation seed
        return {}, {}
    name, options = PRETRAINED[entries[0]]
    finished = finished_run(name, prof, settings.data, seed=PRETRAINING_SEED, **options)
    report("phase", f"{unit.training}: " + ("loading" if finished else "training"))
    begun = time.perf_counter()
    method = load_or_train(name, prof, settings.data, settings.root, seed=PRETRAINING_SEED,
                           progress=functools.partial(report, "steps"), **options)
    origin = _origin("reused from runs/" if finished else "trained now",
                     _checkpoint(entries[0], settings),
                     sum(r["seconds"] for r in method.history), time.perf_counter() - begun)
    backbones = {entry: method.feature_backbone(entry[-1]) if isinstance(method, SRGAN)
                 else method.backbone for entry in entries}
    return backbones, dict.fromkeys(entries, origin)


def _origin(source: str, checkpoint: str | None = None, train_s: float = 0.0,
            stage_s: float = 0.0) -> dict[str, Any]:
    """Where a model came from: ``source`` ("trained now", "reused from runs/", "random
    init", "ImageNet weights"), its checkpoint folder, its training loop's seconds (summed
    over epochs, monitors apart) and the seconds this run spent getting it."""
    return {"source": source, "checkpoint": checkpoint, "train_s": round(train_s, 1),
            "stage_s": round(stage_s, 1)}


def is_ready(unit: Unit, settings: Settings) -> bool:
    """Nothing to compute: its training (if any) is finished and every evaluation cached."""
    if unit.training is not None:
        name, options = PRETRAINED[unit.entries[0]]
        if finished_run(name, settings.profile, settings.data, seed=PRETRAINING_SEED,
                        **options) is None:
            return False
    return all(_complete(entry, _cached(entry, settings), settings) for entry in unit.entries)


def _checkpoint(entry: str, settings: Settings) -> str | None:
    """The folder of the pretraining run an entry's model comes from, if any."""
    if entry not in PRETRAINED:
        return None
    name, options = PRETRAINED[entry]
    return str(default_out(name, settings.profile, settings.data, seed=PRETRAINING_SEED,
                           **options))


def _jobs(entry: str, settings: Settings) -> list[Job]:
    """What an entry is evaluated with: every budget, fine-tuning at the low-label one."""
    seeds, low = settings.seeds, settings.fractions[-1]
    if entry in END_TO_END:  # trained on its label budget
        return study_jobs((), seeds, finetune_at=settings.end_to_end_at)
    if entry == "supervised":  # it has seen all labels: probed with all of them
        return study_jobs((1.0,), seeds)
    return study_jobs(settings.fractions, seeds,
                      finetune_at=() if entry in NOT_FINETUNED else (low,))


EVALUATION_CODE = ("evaluate/*.py", "models/*.py", "transforms.py", "viz/summary.py",
                   "viz/cam.py", "viz/embed.py", "viz/neighbours.py")  # what an evaluation runs


def code_fingerprint(patterns: Sequence[str] = EVALUATION_CODE,
                     package: Path | None = None) -> str:
    """A hash of the source files that compute an evaluation (globs under ``package``, by
    default fgssl's own folder): when they change, saved evaluations are computed again."""
    package = package or Path(fgssl.__file__).parent
    digest = hashlib.sha256()
    for path in sorted({p for pattern in patterns for p in package.glob(pattern)}):
        digest.update(path.relative_to(package).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _cache_key(entry: str, settings: Settings) -> dict[str, Any]:
    """What an evaluation depends on: the kit's version and evaluation code, profile, data,
    jobs and model."""
    return {"fgssl": fgssl.__version__, "code": code_fingerprint(),
            "profile": settings.profile.name, "data": settings.data,
            "root": str(settings.root), "jobs": [list(job) for job in _jobs(entry, settings)],
            "model": _fingerprint(_checkpoint(entry, settings))}


def _cached(entry: str, settings: Settings) -> dict[str, Any] | None:
    """An entry's evaluation saved in ``out/evaluations/`` for the same key, if any."""
    cache = settings.out / "evaluations" / f"{entry}.json"
    saved = json.loads(cache.read_text()) if cache.is_file() else {}
    return saved if saved.get("key") == _cache_key(entry, settings) else None


def _complete(entry: str, saved: dict[str, Any] | None, settings: Settings) -> bool:
    """Whether a saved evaluation has its results and, for a backbone, its figures."""
    if saved is None or "results" not in saved:
        return False
    return entry in END_TO_END or ("figures" in saved and all(
        (settings.out / name).is_file() for name in saved["figures"]["files"]))


def _evaluate(entry: str, backbone: nn.Module | None, settings: Settings, report: Report
              ) -> dict[str, Any]:
    """An entry's evaluation — ``results`` and their ``wall_s``; for a backbone also its
    ``figures`` (:func:`~fgssl.viz.summary.feature_views`) and ``figures_s`` — computed, or
    read back from ``out/evaluations/`` when a run saved it for the same key."""
    saved = _cached(entry, settings) or {"key": _cache_key(entry, settings)}
    if _complete(entry, saved, settings):
        return saved
    prof, begun = settings.profile, time.perf_counter()
    if "results" not in saved:
        report("phase", f"{entry}: evaluating")
        jobs, recipe = _jobs(entry, settings), END_TO_END.get(entry, FINETUNE)
        steps = functools.partial(report, "steps")  # each end-to-end training in turn
        if entry in FROM_RANDOM_INIT:
            results = [r for seed in range(settings.seeds) for r in evaluate_jobs(
                backbone_for("random", prof, seed)[1], settings.data, prof,
                [job for job in jobs if job.seed == seed], settings.root, recipe=recipe,
                progress=steps)]
        else:
            assert backbone is not None
            results = evaluate_jobs(backbone, settings.data, prof, jobs, settings.root,
                                    recipe=recipe, progress=steps)
        saved.update(results=results, wall_s=time.perf_counter() - begun)
    if entry not in END_TO_END:
        from fgssl.viz.summary import FIGURES, feature_views  # matplotlib: only when drawing

        assert backbone is not None
        report("phase", f"{entry}: figures")
        begun = time.perf_counter()
        chosen_c = next(r["C"] for r in saved["results"]
                        if r["protocol"] == "linear" and r["labels"] == 1.0)
        numbers = feature_views(backbone, settings.data, prof, settings.root, settings.out,
                                entry, C=chosen_c)
        saved.update(figures={"files": [f"{kind}_{entry}.png" for kind in FIGURES],
                              **numbers}, figures_s=time.perf_counter() - begun)
    atomic_write_json(saved, settings.out / "evaluations" / f"{entry}.json")
    return saved


def _fingerprint(checkpoint: str | None) -> dict[str, Any] | None:
    """What identifies a checkpoint's contents well enough to reuse its evaluation."""
    if checkpoint is None:
        return None
    path = Path(checkpoint) / "checkpoint.pt"
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
