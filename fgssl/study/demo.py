"""``fgssl demo``: the whole study in one command — the kit's main job.

It trains (or reuses from ``runs/``) the self-supervised methods on the unlabelled pool — by
default the study's three families: SimCLR with its best fine-grained views (``object_crop``),
Jigsaw and SRGAN (judged through its discriminator, ``srgan-d``, and its generator,
``srgan-g``); the others (VICReg, BYOL, SimSiam, DINO, SimCLR's standard views) are opt-in
entries, named in ``methods``, where ``"default"`` stands for the default ones
(``["default", "vicreg"]``) — and sets them beside
the baselines: a random-init backbone, the same network trained with all labels
(``supervised``) and from scratch on each low-label budget (``scratch``), an
ImageNet-pretrained backbone when its weights are cached locally, and the majority-class
floor. On request (``methods`` naming ``pmg`` or ``pmg-imagenet``) it adds the study's
supervised fine-grained baseline, PMG, trained end to end from scratch (and from ImageNet
weights when cached) at all labels and the low-label point, with ``scratch`` at both too.
Every backbone is evaluated by :func:`~fgssl.evaluate.protocol.evaluate_jobs` (choices on val,
test read once): linear probe and kNN at every label budget, fine-tuning at the low-label
point, over evaluation seeds.

The rows are the study's entries (:mod:`fgssl.study.entries`, declared by the methods
themselves). The work comes in *units* (:mod:`fgssl.study.units`) — a pretraining run and the
evaluations of the entries it serves, or an evaluation alone — and on a CPU with two or more
cores two units run side by side, each in a worker process with half the threads
(:mod:`fgssl.workers`: small networks put a second thread to poor use); their progress and
warnings come back to this process. With ``workers=1`` everything runs in this process.

Writes ``results.json``, ``results.md``, ``label_efficiency.png`` and each backbone's figures
(``tsne_``, ``neighbours_``, ``gradcam_<entry>.png``) to its folder, and keeps each entry's
evaluation in ``evaluations/`` keyed by its checkpoint and the evaluation code, so a second
run with the checkpoints in place takes seconds. Delete a file there to evaluate that model
again.

Example::

    >>> results = run_demo("ci", out="runs/ci/synthbirds/demo")   # doctest: +SKIP
    >>> results["rows"][0]["top1_mean"]
"""

# Over 300 lines: the study's plan, run and report, each entry point documented in full.

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from fgssl.config import VERSION, Profile, at_size, chosen_size, runs_root
from fgssl.config import profile as get_profile
from fgssl.data import catalog
from fgssl.evaluate.comparison import (
    floor_rows,
    label_fractions,
    markdown_table,
    rows_from_results,
    sibling_table,
)
from fgssl.evaluate.protocol import check_probe_splits
from fgssl.files import atomic_write_json
from fgssl.methods.registry import runtime_added
from fgssl.models.backbones import NoImageNetWeights, imagenet_backbone
from fgssl.study.entries import check_entries, describe, study_entries
from fgssl.study.units import (
    PRETRAINING_SEED,
    Settings,
    Unit,
    UnitResult,
    is_ready,
    run_unit,
    say_estimates,
    units_for,
)
from fgssl.workers import ProgressBars, default_workers, run_all


@dataclass(frozen=True)
class Plan:
    """What a study run will do, decided before anything trains: its settings (profile,
    data, label budgets, seeds, where it writes), the entries (rows) and the units of work
    that make them, the units already done (read back), how many run side by side, and the
    entries left out with why."""

    settings: Settings
    entries: list[str]
    units: list[Unit]
    ready: set[Unit]
    workers: int
    skipped: dict[str, str]


def run_demo(profile: str | Profile | None = None, data: str = "synthbirds",
             root: str | None = None, out: str | Path | None = None,
             methods: Sequence[str] | None = None, seeds: int = 2, progress_bars: bool = True,
             log: Callable[[str], None] = tqdm.write, workers: int | None = None,
             size: int | None = None) -> dict[str, Any]:
    """Run the study: train the methods, evaluate every backbone under every protocol and label
    budget, and write ``results.json``, the tables and the figures.

    Args:
        profile: the profile (name or object; default: the current one).
        data: the dataset's name.
        root: where the dataset lives.
        out: where to write (default: :func:`demo_out`).
        methods: the study's entries (default: those not opt-in; ``"default"`` names them
            beside others).
        seeds: evaluation seeds per result.
        progress_bars: show each worker's progress.
        log: where the study's lines go.
        workers: processes training and evaluating models side by side, sharing the CPU's
            threads (default: :func:`default_workers`; with one, all in this process).
        size: read the images at that size (default: the profile's).

    Returns:
        What ``results.json`` holds."""
    started = time.perf_counter()
    prof = at_size(profile if isinstance(profile, Profile) else get_profile(profile), size)
    out = Path(out) if out is not None else demo_out(prof, data, root)
    say = _timed(log)
    say(f"data: {data}{f' in {root}' if root is not None else ''} for the {prof.name} profile"
        f" at {prof.image_size} px")
    plan = plan_demo(prof, data, root, out, methods, seeds, workers, log)
    with ProgressBars(plan.workers, progress_bars) as bars:
        done = _run_units(plan.units, plan.ready, plan.settings, plan.workers, bars, say)
    for unit in plan.units:
        for message in done[unit].warnings:
            warnings.warn(message, stacklevel=2)
    results = _assemble(plan, done, time.perf_counter() - started)
    _write_outputs(results, out)
    log("\n" + markdown_table(results["rows"]))
    log(f"\nfgssl demo: {results['wall_s']:.0f} s; results in {out}")
    return results


def plan_demo(prof: Profile, data: str, root: str | None, out: Path,
              methods: Sequence[str] | None, seeds: int, workers: int | None,
              log: Callable[[str], None]) -> Plan:
    """Check the request, prepare the data (rendered or indexed once, before any worker reads
    it), leave out what needs ImageNet weights that are not here, and say what will run."""
    entries = check_entries(methods)
    if seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {seeds}")
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    table = study_entries()
    skipped = {}
    for entry in (e for e in entries if table[e].entry.weights == "imagenet"):
        try:
            imagenet_backbone(prof.backbone, prof.image_size)
        except NoImageNetWeights as reason:
            skipped[entry] = str(reason)
            log(f"fgssl demo: skipping {entry}, which needs ImageNet weights: {reason}")
    entries = [entry for entry in entries if entry not in skipped]
    if not entries:
        raise ValueError(f"nothing left to evaluate: {'; '.join(skipped.values())}; "
                         "choose other --methods")
    info = catalog.prepare(data, root, prof.name)
    check_probe_splits(info, root or data)  # before any training: the study probes each
    if _without_parts(data, root):
        log(f"  on {data}: no sibling-pair table and no Grad-CAM pointing game (they need "
            "species that differ in one known part, or annotated parts and boxes, as "
            "SynthBirds and CUB have); every row, figure and other score is made")
    splits = {split: catalog.dataset(data, split, root, size=prof.image_size, profile=prof)
              for split in catalog.SPLITS}  # cached once here, before workers read them
    train_labels = np.asarray(splits["train"].labels)
    fractions = label_fractions(train_labels, prof)
    units = units_for(entries)
    beside_end_to_end = any(table[e].entry.opt_in and table[e].entry.end_to_end is not None
                            for e in entries)  # PMG: then scratch trains at 100% too
    settings = Settings(prof, data, root, fractions, seeds, out,
                        end_to_end_at=(1.0, fractions[-1]) if beside_end_to_end
                        else (fractions[-1],),
                        dataset=catalog.identity(data, root).as_record(),
                        added=tuple(runtime_added()))
    ready = {unit for unit in units if is_ready(unit, settings)}  # read back, in this process
    workers = max(1, min(workers, len(units) - len(ready)))
    log(f"  {info['num_classes']} classes, splits {info['splits']}; label budgets "
        f"{', '.join(f'{f:.0%}' for f in fractions)} (the low-label point: at most "
        f"{round(fractions[-1] * np.bincount(train_labels).max())} images per class)\n"
        f"  each model: linear probe and kNN on frozen features at every budget, fine-tuning "
        f"at the low-label point" + (", trained end to end at 100% and the low-label point"
                                     " (scratch, PMG)" if beside_end_to_end else "")
        + f", {seeds} evaluation seed(s); "
        + ("all read back from earlier runs" if len(ready) == len(units) else
           "one at a time" if workers == 1 else
           f"{workers} side by side (--workers 1 for one at a time)"))
    say_estimates([unit for unit in units if unit not in ready], settings, workers, log)
    return Plan(settings, entries, units, ready, workers, skipped)


def _assemble(plan: Plan, done: dict[Unit, UnitResult], wall_s: float) -> dict[str, Any]:
    """``results.json``: the rows of every entry (and the majority-class floor), the models
    and what they cost, the figures, and what the numbers are over."""
    settings, table = plan.settings, study_entries()
    models = {entry: model for entry in plan.entries for unit in plan.units
              for name, model in done[unit].models.items() if name == entry}
    evaluated = {entry: done[unit].evaluations[entry] for entry in plan.entries
                 for unit in plan.units if entry in unit.entries}
    rows = [row for entry, saved in evaluated.items()
            for row in rows_from_results(entry, saved["results"], saved["wall_s"])]
    rows += floor_rows([r for saved in evaluated.values() for r in saved["results"]])
    return {
        "profile": settings.profile.name, "image_size": settings.profile.image_size,
        "data": settings.data, "dataset": settings.dataset, "date": time.strftime("%Y-%m-%d"),
        "fgssl": VERSION, "wall_s": round(wall_s, 1), "workers": plan.workers,
        "compute_s": round(sum({m["checkpoint"]: m["train_s"] for m in models.values()}.values())
                           + sum(e["wall_s"] + e.get("figures_s", 0.0)
                                 for e in evaluated.values()), 1),
        "fractions": list(settings.fractions), "low_label_fraction": settings.fractions[-1],
        "evaluation_seeds": settings.seeds, "pretraining_seeds": [PRETRAINING_SEED],
        "not_finetuned": {e: table[e].entry.not_finetuned for e in plan.entries
                          if table[e].entry.not_finetuned},
        "pretraining_note": "one pretraining run per method in every profile: the ± is over "
                            "evaluation seeds (label subsets, probe and classifier "
                            "initialisation); benchmarks/*_synthbirds.py measure the spread "
                            "over pretraining seeds",
        "models": {name: {"description": describe(name), **model}
                   for name, model in models.items()},
        "skipped": plan.skipped, "rows": rows,
        "figures": {entry: {**saved["figures"], "seconds": round(saved["figures_s"], 1)}
                    for entry, saved in evaluated.items() if "figures" in saved}}


def demo_out(prof: Profile, data: str, root: str | None = None) -> Path:
    """Where the study writes by default: ``runs/<profile>/<dataset key>/demo``, or
    ``demo-size=S`` at an image size the user chose.

    Args:
        prof: the profile.
        data: the dataset's name (a folder of images is keyed by its path:
            :func:`fgssl.data.catalog.data_key`).
        root: where the dataset lives.

    Returns:
        The folder."""
    size = chosen_size(prof)
    return runs_root() / prof.name / catalog.data_key(data, root) / \
        ("demo" if size is None else f"demo-size={size}")


def _without_parts(data: str, root: str | None) -> bool:
    """Whether a dataset has neither SynthBirds' parts nor annotated parts and boxes."""
    if data == "synthbirds":
        return False
    found, _ = catalog.collection(data, root)
    return not found.parts and not any(r.box for rs in found.splits.values() for r in rs)


def _timed(log: Callable[[str], None]) -> Callable[[str], None]:
    """A logger that says how long the run has taken so far: ``[95 s] jigsaw: ...``."""
    begun = time.perf_counter()
    return lambda text: log(f"[{time.perf_counter() - begun:.0f} s] {text}")


def _run_units(units: list[Unit], ready: set[Unit], settings: Settings, workers: int,
               bars: ProgressBars, say: Callable[[str], None]) -> dict[Unit, UnitResult]:
    """Every unit run once: the ``ready`` ones (only read back) in this process, then the
    others ``workers`` at a time (:func:`fgssl.workers.run_all`)."""
    done: dict[Unit, UnitResult] = {}

    def start(unit: Unit) -> None:
        say(f"{', '.join(unit.entries)}: " + ("reading back its model and evaluation"
                                              if unit in ready else unit.plan(settings)))

    def finish(unit: Unit, result: UnitResult) -> None:
        done[unit] = result
        trained = [m for m in result.models.values() if m["source"] == "trained now"]
        seconds = sum(e["wall_s"] + e.get("figures_s", 0.0)
                      for e in result.evaluations.values())
        say(f"{', '.join(unit.entries)} done ({len(done)}/{len(units)})" + (
            f" (evaluated in {seconds:.0f} s by an earlier run)" if unit in ready else
            ": " + (f"trained in {trained[0]['stage_s']:.0f} s, " if trained else "")
            + f"evaluated in {seconds:.0f} s"))

    work = functools.partial(run_unit, settings)
    run_all([unit for unit in units if unit in ready], work, 1, bars, start, finish)
    run_all([unit for unit in units if unit not in ready], work, workers, bars, start, finish)
    return done


def _write_outputs(results: dict[str, Any], out: Path) -> None:
    """results.json, results.md (the table and what each row is) and label_efficiency.png."""
    from fgssl.study.figures import figures_table
    from fgssl.viz.results import label_efficiency  # matplotlib: only when writing figures

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(results, out / "results.json")
    legend = []
    for name in dict.fromkeys(row["method"] for row in results["rows"]):
        model = results["models"].get(name)
        how = f" ({model['source']}; training loop {model['train_s']:.0f} s)" \
            if model and model["train_s"] else ""
        why = results["not_finetuned"].get(name)
        legend.append(f"- **{name}**: {describe(name)}{how}"
                      + (f"; not fine-tuned: {why}" if why else ""))
    legend += [f"- *{name} skipped*: {why}" for name, why in results["skipped"].items()]
    siblings = sibling_table(results["rows"])
    if siblings:
        siblings = ("## Which parts the features know\n\nHow often the linear probe (all "
                    "labels) tells sibling species apart on their test images, by the one "
                    "part each pair differs in (%; 50 is a coin toss):\n\n"
                    f"{siblings}\n\n")
    (out / "results.md").write_text(
        f"# fgssl demo: {results['data']}, {results['profile']} profile, "
        f"{results['image_size']} px, {results['date']}\n\n"
        f"Test top-1 accuracy (%), mean ± std over {results['evaluation_seeds']} evaluation "
        "seeds (label subsets and initialisations; at 100% labels a frozen probe sees the same "
        f"data whatever the seed, hence ± 0); every choice made on val. This run took "
        f"{results['wall_s']:.0f} s; the models' training loops and evaluations "
        f"{results['compute_s']:.0f} s in all (with any reused from earlier runs).\n\n"
        f"{markdown_table(results['rows'])}\n\n"
        + "\n".join(legend) + "\n\n" + siblings
        + (figures_table(results["figures"]) if results["figures"] else ""))
    figure = label_efficiency(results["rows"])
    figure.savefig(out / "label_efficiency.png", dpi=120, bbox_inches="tight")
