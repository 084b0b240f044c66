"""How long each notebook trains on a GPU, cell by cell: the table in docs/INSTRUCTORS.md.

The training is read from the notebooks themselves: every ``load_or_train(...)`` call (the
method, its options, the epochs a cell asks for; loops over literal values expanded, names
assigned in earlier cells evaluated), every ``finetune(...)`` (at most the fine-tuning
schedule, on train's size) and, for ``run_demo(prof)``, the study's default
entries: their pretraining runs, their fine-tuning at the low-label point and the end-to-end
entries' training on it (each for at most its schedule: early stopping may end it sooner),
over the study's two evaluation seeds. Probes, kNN, figures and the rendering of SynthBirds
are not counted. A run is timed by :func:`fgssl.study.estimates.t4_seconds` (its FLOPs at a
T4's published training rate) or, with ``--measure``, by timing its steps on this machine
(:func:`fgssl.study.runs.step_seconds`: on a GPU, the real thing).

A run an earlier notebook trains is counted in ``alone`` (the notebook opened first, as CI
runs it) but not ``in_order`` (the course in number order, sharing ``runs/``). Prints one
JSON object: ``{"profile", "timing", "cells": [{"notebook", "cell", "runs", "minutes_alone",
"minutes_in_order"}], "notebooks": {name: {"minutes_alone", "minutes_in_order"}}}``.

Usage::

    python benchmarks/notebook_gpu_times.py                      # T4 estimate, gpu profile
    python benchmarks/notebook_gpu_times.py --measure            # timed here (on a GPU)
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
DEMO_SEEDS = 2  # run_demo's evaluation seeds by default


@dataclass(frozen=True)
class Training:
    """One training a notebook cell asks for: a pretraining run of ``method`` (``epochs``
    None: its schedule), or ``repeats`` trainings on the labelled train split (``labels`` <
    1: a budget of it, repeated to its size), as the study's fine-tuning of ``entry`` does."""

    cell: int
    method: str
    options: tuple[tuple[str, Any], ...] = ()
    epochs: int | None = None
    labels: float = 1.0
    repeats: int = 1
    entry: str = ""

    @property
    def key(self) -> tuple[Any, ...]:
        return self.method, self.options, self.epochs, self.labels, self.repeats, self.entry


def _code(cell_source: str) -> str:
    """A cell's Python, without IPython's ``%`` and ``!`` lines."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in cell_source.splitlines())


def _calls(node: ast.AST, name: str) -> bool:
    """Whether ``name`` is called anywhere in ``node``."""
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name
               for n in ast.walk(node))


def study_trainings(cell: int, prof: Any) -> Iterator[Training]:
    """What ``run_demo(prof)`` trains: each default entry's pretraining run, fine-tuning at
    the low-label point, and an end-to-end entry's training on it."""
    from fgssl.data.catalog import synthbirds_sizes
    from fgssl.evaluate.comparison import low_label_fraction
    from fgssl.evaluate.finetune import FINETUNE, recipe_epochs
    from fgssl.study.entries import check_entries, study_entries

    per_class = synthbirds_sizes(prof)["train"] // 24
    low = low_label_fraction([c for c in range(24) for _ in range(per_class)])
    for name in check_entries(None):
        item = study_entries()[name]
        entry = item.entry
        if item.pretraining is not None:
            yield Training(cell, item.method, tuple(sorted(entry.options.items())))
        if entry.end_to_end is not None:
            recipe = entry.end_to_end
            head = item.method if recipe.head != "linear" else "supervised"
            epochs = recipe_epochs(FINETUNE, prof) if recipe.epochs_of == FINETUNE.epochs_of \
                else None
            yield Training(cell, head, epochs=epochs, labels=low, repeats=DEMO_SEEDS,
                           entry=name)
        elif entry.weights != "imagenet" and not entry.not_finetuned \
                and not entry.all_labels_only:
            yield Training(cell, "supervised", epochs=recipe_epochs(FINETUNE, prof), labels=low,
                           repeats=DEMO_SEEDS, entry=name)


def notebook_trainings(path: Path, prof: Any) -> Iterator[Training]:
    """The trainings of notebook ``path``, in the order its cells ask for them."""
    from fgssl.evaluate.finetune import FINETUNE, recipe_epochs
    from fgssl.methods.registry import method_classes

    namespace = {"prof": prof, "max": max, "min": min,
                 **{cls.__name__: cls for cls in method_classes()}}
    names: dict[str, Any] = {}

    def value(node: ast.expr) -> Any:
        return eval(compile(ast.Expression(node), str(path), "eval"), {**namespace, **names})

    def visit(cell: int, statements: list[ast.stmt]) -> Iterator[Training]:
        for statement in statements:
            if isinstance(statement, ast.For) and isinstance(statement.target, ast.Name) \
                    and _calls(statement, "load_or_train"):
                for item in value(statement.iter):
                    names[statement.target.id] = item
                    yield from visit(cell, statement.body)
                continue
            for node in ast.walk(statement):
                if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                    continue
                arguments = {k.arg: k.value for k in node.keywords if k.arg}
                if node.func.id == "load_or_train" and "data" not in arguments:
                    options = {k: value(v) for k, v in arguments.items()}
                    epochs = options.pop("epochs", None)
                    yield Training(cell, value(node.args[0]), tuple(sorted(options.items())),
                                   epochs)
                elif node.func.id == "run_demo" and "data" not in arguments:
                    yield from study_trainings(cell, prof)
                elif node.func.id == "finetune":  # a backbone tuned on train (repeated)
                    yield Training(cell, "supervised", epochs=recipe_epochs(FINETUNE, prof),
                                   entry=f"finetune in cell {cell}")
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                    and isinstance(statement.targets[0], ast.Name):
                with contextlib.suppress(Exception):  # a name no training needs
                    names[statement.targets[0].id] = value(statement.value)

    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type == "code":
            yield from visit(index, ast.parse(_code(cell.source)).body)


def seconds(training: Training, prof: Any, measure: bool) -> float:
    """A training's seconds: estimated for a T4 from its FLOPs, or timed here."""
    from fgssl.methods.registry import method_class
    from fgssl.study.estimates import t4_seconds
    from fgssl.study.runs import Run, step_seconds

    run = Run.of(training.method, prof, labels=training.labels, epochs=training.epochs,
                 **dict(training.options))
    if not measure:
        return training.repeats * t4_seconds(run)
    step, images = step_seconds(run)
    batch = min(method_class(run.method).batch_size_for(prof), images)
    return training.repeats * run.planned_epochs * max(1, images // batch) * step


def course_times(prof: Any, measure: bool = False) -> dict[str, Any]:
    """Every notebook's training, cell by cell, in minutes (see the module's docstring)."""
    cells: list[dict[str, Any]] = []
    trained: set[tuple[Any, ...]] = set()  # by the notebooks before
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        here: dict[tuple[Any, ...], Training] = {}
        for training in notebook_trainings(path, prof):
            here.setdefault(training.key, training)  # trained once, reused after
        by_cell: dict[int, dict[str, Any]] = {}
        for key, training in here.items():
            minutes = seconds(training, prof, measure) / 60
            cell = by_cell.setdefault(training.cell, {
                "notebook": path.stem, "cell": training.cell, "runs": [],
                "minutes_alone": 0.0, "minutes_in_order": 0.0})
            cell["runs"].append({"method": training.method, "options": dict(training.options),
                                 "epochs": training.epochs, "labels": training.labels,
                                 "repeats": training.repeats, "entry": training.entry,
                                 "minutes": round(minutes, 2),
                                 "trained_earlier": key in trained})
            cell["minutes_alone"] += minutes
            cell["minutes_in_order"] += 0.0 if key in trained else minutes
        trained |= set(here)
        cells += by_cell.values()
    notebooks: dict[str, dict[str, float]] = {}
    for cell in cells:
        total = notebooks.setdefault(cell["notebook"],
                                     {"minutes_alone": 0.0, "minutes_in_order": 0.0})
        for field in total:
            cell[field] = round(cell[field], 2)
            total[field] = round(total[field] + cell[field], 2)
    return {"profile": prof.name, "image_size": prof.image_size,
            "timing": "measured here" if measure else "T4 estimate from FLOPs",
            "cells": cells, "notebooks": notebooks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="gpu", choices=("ci", "cpu", "gpu", "full"))
    parser.add_argument("--measure", action="store_true", help="time each run's steps here")
    args = parser.parse_args()
    os.environ.setdefault("FGSSL_DATA", tempfile.mkdtemp(prefix="fgssl-gpu-times-"))

    from fgssl.config import profile

    print(json.dumps(course_times(profile(args.profile), args.measure)))


if __name__ == "__main__":
    main()
