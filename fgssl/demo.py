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

The work comes in *units* — a pretraining run and the evaluations of the entries it serves,
or an evaluation alone — and on a CPU with two or more cores two units run side by side, each
in a worker process with half the threads (:mod:`fgssl.workers`: small networks put a second
thread to poor use); their progress and warnings come back to this process. With
``workers=1`` everything runs in this process.

Writes ``results.json``, ``results.md`` and ``label_efficiency.png`` to its folder, and keeps
each model's evaluation in ``evaluations/`` keyed by its checkpoint, so a second run with the
checkpoints in place takes seconds. Delete a file there to evaluate that model again.

Example::

    >>> results = run_demo("ci", out="runs/ci/synthbirds/demo")   # doctest: +SKIP
    >>> results["rows"][0]["top1_mean"]
"""

from __future__ import annotations

import functools
import json
import time
import warnings
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
from fgssl.evaluate.protocol import Job, evaluate_jobs
from fgssl.evaluate.study import (
    floor_rows,
    label_fractions,
    markdown_table,
    rows_from_results,
    study_jobs,
)
from fgssl.methods.registry import backbone_for, default_out, finished_run, load_or_train
from fgssl.methods.srgan import SRGAN
from fgssl.models.backbones import NoImageNetWeights, imagenet_backbone
from fgssl.utils import atomic_write_json
from fgssl.workers import ProgressBars, Report, default_workers, run_all

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


LONGEST_FIRST = ("srgan-d", "srgan-g", f"simclr-{BEST_VARIANT}", "simclr", "jigsaw",
                 "supervised", "scratch", "imagenet", "random")  # measured, cpu profile


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
                                   if self.entries == ("scratch",) else "")
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


@dataclass
class UnitResult:
    """A unit's models (where each came from) and evaluations, and the warnings it raised."""

    models: dict[str, dict[str, Any]]  # entry -> source, checkpoint, train_s, stage_s
    evaluations: dict[str, dict[str, Any]]  # entry -> results, wall_s, figures, figures_s
    warnings: list[str]


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


def _units(entries: Sequence[str]) -> list[Unit]:
    """The entries grouped by the pretraining run they share, longest first (so that
    parallel workers finish at about the same time)."""
    groups: dict[str, list[str]] = {}
    for entry in sorted(entries, key=LONGEST_FIRST.index):
        groups.setdefault(_training(entry) if entry in PRETRAINED else entry, []).append(entry)
    return [Unit(tuple(group)) for group in groups.values()]


def run_demo(profile: str | Profile | None = None, data: str = "synthbirds",
             root: str | None = None, out: str | Path | None = None,
             methods: Sequence[str] | None = None, seeds: int = 2, progress: bool = True,
             log: Callable[[str], None] = tqdm.write, workers: int | None = None
             ) -> dict[str, Any]:
    """Run the study; returns what ``results.json`` holds. ``workers`` processes (default
    :func:`default_workers`) train and evaluate models side by side, sharing the CPU's
    threads; with one, everything runs in this process."""
    started = time.perf_counter()
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    entries = check_entries(methods)
    if seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {seeds}")
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    out = Path(out) if out is not None else runs_root() / prof.name / data / "demo"
    skipped = {}
    if "imagenet" in entries:
        try:
            imagenet_backbone(prof.backbone, prof.image_size)
        except NoImageNetWeights as reason:
            skipped["imagenet"] = str(reason)
            log(f"fgssl demo: skipping the ImageNet baseline: {reason}")
    entries = [entry for entry in entries if entry not in skipped]
    if not entries:
        raise ValueError(f"nothing left to evaluate: {'; '.join(skipped.values())}; "
                         "choose other --methods")
    say = _timed(log)
    say(f"data: {data} for the {prof.name} profile")
    info = catalog.prepare(data, root, prof.name)
    splits = {split: catalog.dataset(data, split, root, size=prof.image_size, profile=prof)
              for split in catalog.SPLITS}  # cached once here, before workers read them
    train_labels = np.asarray(splits["train"].labels)
    fractions = label_fractions(train_labels, prof)
    units = _units(entries)
    settings = Settings(prof, data, root, fractions, seeds, out)
    ready = {unit for unit in units if _ready(unit, settings)}  # read back, in this process
    workers = max(1, min(workers, len(units) - len(ready)))
    log(f"  {info['num_classes']} classes, splits {info['splits']}; label budgets "
        f"{', '.join(f'{f:.0%}' for f in fractions)} (the low-label point: at most "
        f"{round(fractions[-1] * np.bincount(train_labels).max())} images per class)\n"
        f"  each model: linear probe and kNN on frozen features at every budget, fine-tuning "
        f"at the low-label point, {seeds} evaluation seed(s); "
        + ("all read back from earlier runs" if len(ready) == len(units) else
           "one at a time" if workers == 1 else
           f"{workers} side by side (--workers 1 for one at a time)"))
    with ProgressBars(workers, progress) as bars:
        done = _run_units(units, ready, settings, workers, bars, say)
    for unit in units:
        for message in done[unit].warnings:
            warnings.warn(message, stacklevel=2)
    models = {entry: model for entry in entries for unit in units
              for name, model in done[unit].models.items() if name == entry}
    evaluated = {entry: done[unit].evaluations[entry] for entry in entries
                 for unit in units if entry in unit.entries}
    rows = [row for entry, saved in evaluated.items()
            for row in rows_from_results(entry, saved["results"], saved["wall_s"])]
    rows += floor_rows([r for saved in evaluated.values() for r in saved["results"]])
    results = {
        "profile": prof.name, "data": data, "date": time.strftime("%Y-%m-%d"),
        "fgssl": fgssl.__version__, "wall_s": round(time.perf_counter() - started, 1),
        "workers": workers,
        "compute_s": round(sum({m["checkpoint"]: m["train_s"] for m in models.values()}.values())
                           + sum(e["wall_s"] + e.get("figures_s", 0.0)
                                 for e in evaluated.values()), 1),
        "fractions": list(fractions), "low_label_fraction": fractions[-1],
        "evaluation_seeds": seeds, "pretraining_seeds": [PRETRAINING_SEED],
        "not_finetuned": {e: why for e, why in NOT_FINETUNED.items() if e in entries},
        "pretraining_note": "one pretraining run per method in every profile: the ± is over "
                            "evaluation seeds (label subsets, probe and classifier "
                            "initialisation); benchmarks/*_synthbirds.py measure the spread "
                            "over pretraining seeds",
        "models": {name: {"description": DESCRIPTIONS[name], **model}
                   for name, model in models.items()},
        "skipped": skipped, "rows": rows,
        "figures": {entry: {**saved["figures"], "seconds": round(saved["figures_s"], 1)}
                    for entry, saved in evaluated.items() if "figures" in saved}}
    _write_outputs(results, out)
    log("\n" + markdown_table(rows))
    log(f"\nfgssl demo: {results['wall_s']:.0f} s; results in {out}")
    return results


def _timed(log: Callable[[str], None]) -> Callable[[str], None]:
    """A logger that says how long the run has taken so far: ``[95 s] jigsaw: ...``."""
    begun = time.perf_counter()
    return lambda text: log(f"[{time.perf_counter() - begun:.0f} s] {text}")


def _run_units(units: list[Unit], ready: set[Unit], settings: Settings, workers: int,
               bars: ProgressBars, say: Callable[[str], None]) -> dict[Unit, UnitResult]:
    """Every unit run once: the ``ready`` ones (only read back) in this process, then the
    others ``workers`` at a time (:func:`fgssl.workers.run_all`)."""
    prof, data = settings.profile, settings.data
    done: dict[Unit, UnitResult] = {}

    def start(unit: Unit) -> None:
        say(f"{', '.join(unit.entries)}: " + ("reading back its model and evaluation"
                                              if unit in ready else unit.plan(prof, data)))

    def finish(unit: Unit, result: UnitResult) -> None:
        done[unit] = result
        trained = [m for m in result.models.values() if m["source"] == "trained now"]
        seconds = sum(e["wall_s"] + e.get("figures_s", 0.0)
                      for e in result.evaluations.values())
        say(f"{', '.join(unit.entries)} done ({len(done)}/{len(units)})" + (
            f" (evaluated in {seconds:.0f} s by an earlier run)" if unit in ready else
            ": " + (f"trained in {trained[0]['stage_s']:.0f} s, " if trained else "")
            + f"evaluated in {seconds:.0f} s"))

    work = functools.partial(_run_unit, settings)
    run_all([unit for unit in units if unit in ready], work, 1, bars, start, finish)
    run_all([unit for unit in units if unit not in ready], work, workers, bars, start, finish)
    return done


def _run_unit(settings: Settings, unit: Unit, report: Report) -> UnitResult:
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
    if entries == ("random",):
        backbone = backbone_for("random", prof, PRETRAINING_SEED)[1]
        return {"random": backbone}, {"random": _origin("random init")}
    if entries == ("imagenet",):
        backbone = imagenet_backbone(prof.backbone, prof.image_size)
        return {"imagenet": backbone}, {"imagenet": _origin("ImageNet weights")}
    if unit.training is None:  # scratch: its networks are made per evaluation seed
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


def _ready(unit: Unit, settings: Settings) -> bool:
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
    if entry == "scratch":  # a random init per seed, trained on its label budget
        return study_jobs((), seeds, finetune_at=(low,))
    if entry == "supervised":  # it has seen all labels: probed with all of them
        return study_jobs((1.0,), seeds)
    return study_jobs(settings.fractions, seeds,
                      finetune_at=() if entry in NOT_FINETUNED else (low,))


def _cache_key(entry: str, settings: Settings) -> dict[str, Any]:
    """What an evaluation depends on: the kit's version, profile, data, jobs and model."""
    return {"fgssl": fgssl.__version__, "profile": settings.profile.name,
            "data": settings.data, "root": str(settings.root),
            "jobs": [list(job) for job in _jobs(entry, settings)],
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
    return entry == "scratch" or ("figures" in saved and all(
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
        jobs = _jobs(entry, settings)
        if entry == "scratch":
            results = [r for seed in range(settings.seeds) for r in evaluate_jobs(
                backbone_for("random", prof, seed)[1], settings.data, prof,
                [job for job in jobs if job.seed == seed], settings.root,
                backbone_lr_factor=1.0)]
        else:
            assert backbone is not None
            results = evaluate_jobs(backbone, settings.data, prof, jobs, settings.root)
        saved.update(results=results, wall_s=time.perf_counter() - begun)
    if entry != "scratch":
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


def _write_outputs(results: dict[str, Any], out: Path) -> None:
    """results.json, results.md (the table and what each row is) and label_efficiency.png."""
    from fgssl.viz.results import label_efficiency  # matplotlib: only when writing figures
    from fgssl.viz.summary import figures_table

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
        + "\n".join(legend) + "\n\n"
        + (figures_table(results["figures"]) if results["figures"] else ""))
    figure = label_efficiency(results["rows"])
    figure.savefig(out / "label_efficiency.png", dpi=120, bbox_inches="tight")
