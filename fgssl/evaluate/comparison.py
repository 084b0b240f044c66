"""The comparison at the heart of the study: every backbone, every protocol, every label
budget, repeated over evaluation seeds, reported as mean ± std.

Each backbone goes through :func:`~fgssl.evaluate.protocol.evaluate_jobs`, the one function
that reads the test split, so every backbone sees the same splits, the same label subsets (a
seed picks the subset, nested across budgets) and the same val-only selection. A row is
JSON-ready: the rows of ``fgssl demo``'s ``results.json``.

The label budgets are all labels, the *low-label point* — at most 10 labelled images per
class, recorded as the fraction it is — and intermediate fractions where the profile has
time for them; fine-tuning runs at the low-label point, where it matters.

Example::

    >>> jobs = study_jobs((1.0, 0.1), seeds=2, finetune_at=(0.1,))
    >>> rows = rows_from_results("random", evaluate_jobs(backbone, "synthbirds", "cpu", jobs),
    ...                          wall_s=0.0)                # doctest: +SKIP
    >>> print(markdown_table(rows))                        # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fgssl.config import Profile
from fgssl.evaluate.metrics import summarise
from fgssl.evaluate.protocol import Job

# the label budgets besides 100% and the low-label point
INTERMEDIATE_FRACTIONS = {"ci": (), "cpu": (0.3,), "gpu": (0.3,), "full": (0.5, 0.25)}
FLOOR = "floor"  # the protocol name of the majority-class rows


def low_label_fraction(labels: np.ndarray, per_class: int = 10) -> float:
    """The study's low-label point: the label fraction that gives every class at most
    ``per_class`` images (the largest class exactly that many), and never more than half the
    labels; recorded as the fraction it is.

    Args:
        labels: (N,) the train split's class labels.
        per_class: labelled images for the largest class.

    Returns:
        A fraction of the train split in (0, 0.5]."""
    largest = int(np.bincount(np.asarray(labels)).max())
    return min(0.5, per_class / largest)


def label_fractions(labels: np.ndarray, profile: Profile) -> tuple[float, ...]:
    """The budgets a profile evaluates: 1.0, its intermediate fractions, the low-label point
    (largest first)."""
    low = low_label_fraction(labels)
    middle = [f for f in INTERMEDIATE_FRACTIONS.get(profile.name, ()) if low < f < 1.0]
    return (1.0, *middle, low)


def study_jobs(fractions: Sequence[float], seeds: int, finetune_at: Sequence[float] = ()
               ) -> list[Job]:
    """Linear probe and kNN at every fraction, fine-tuning at ``finetune_at``; each over
    evaluation seeds 0 … ``seeds``-1."""
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    protocols = [(p, f) for f in fractions for p in ("linear", "knn")]
    protocols += [("finetune", f) for f in finetune_at]
    return [Job(p, f, seed) for p, f in protocols for seed in range(seeds)]


def rows_from_results(method: str, results: list[dict[str, Any]], wall_s: float
                      ) -> list[dict[str, Any]]:
    """One row per (protocol, labels) of one backbone's results: top-1 and mean per-class
    accuracy summarised over the seeds, the per-seed values and choices, the majority floor,
    and the wall time spent on the backbone's evaluation."""
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for result in results:
        groups.setdefault((result["protocol"], result["labels"]), []).append(result)
    rows = []
    for (protocol, labels), group in groups.items():
        top1 = summarise([r["top1"] for r in group])
        rows.append({
            "method": method, "protocol": protocol, "labels": labels,
            "top1_mean": top1["mean"], "top1_std": top1["std"], "seeds": len(group),
            "top1_values": top1["values"],
            "mean_per_class_mean": summarise([r["mean_per_class_acc"] for r in group])["mean"],
            "macro_f1_mean": summarise([r["macro_f1"] for r in group])["mean"],
            "chosen_on_val": [{k: r[k] for k in ("C", "k", "epochs") if k in r} for r in group],
            "n_train": group[0]["n_train"], "n_test": group[0]["n_test"],
            "majority_floor": group[0]["majority_floor"], "wall_s": round(wall_s, 1),
            **_siblings(group)})
    return rows


def _siblings(group: list[dict[str, Any]]) -> dict[str, Any]:
    """A row's sibling accuracy, over its seeds: the mean, and by the part that tells the
    pairs apart (empty for results without sibling pairs)."""
    if "sibling_accuracy" not in group[0]:
        return {}
    by_part: dict[str, list[float]] = {}
    for result in group:
        for pair in result["sibling_pairs"]:
            by_part.setdefault(pair["part"], []).append(pair["accuracy"])
    return {"sibling_accuracy_mean": round(float(np.mean([r["sibling_accuracy"]
                                                          for r in group])), 4),
            "sibling_by_part": {part: round(float(np.mean(values)), 4)
                                for part, values in by_part.items()}}


def sibling_table(rows: list[dict[str, Any]]) -> str:
    """Which parts each backbone's features know: for every row of a linear probe with all
    labels, how often it tells sibling species apart (%), by the part they differ in and on
    average. Empty when no row has sibling pairs."""
    chosen = [row for row in rows if row["protocol"] == "linear" and row["labels"] == 1.0
              and "sibling_by_part" in row]
    if not chosen:
        return ""
    parts = list(dict.fromkeys(part for row in chosen for part in row["sibling_by_part"]))
    lines = ["| method | " + " | ".join([*parts, "mean"]) + " |",
             "|---" * (len(parts) + 2) + "|"]
    for row in chosen:
        cells = [f"{100 * row['sibling_by_part'][part]:.0f}" for part in parts]
        lines.append(f"| {row['method']} | " + " | ".join(
            [*cells, f"{100 * row['sibling_accuracy_mean']:.1f}"]) + " |")
    return "\n".join(lines)


def floor_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The majority-class floor at every budget (test accuracy of always answering the
    budget's most frequent class), over the seeds, from any backbone's results."""
    floors: dict[float, dict[int, float]] = {}
    for result in results:
        floors.setdefault(result["labels"], {})[result["seed"]] = result["majority_floor"]
    rows = []
    for labels, by_seed in floors.items():
        values = summarise(list(by_seed.values()))
        rows.append({"method": "majority class", "protocol": FLOOR, "labels": labels,
                     "top1_mean": values["mean"], "top1_std": values["std"],
                     "seeds": len(by_seed), "top1_values": values["values"], "wall_s": 0.0})
    return rows


def top1_of(rows: list[dict[str, Any]], method: str, protocol: str, labels: float) -> float:
    """One row's mean test top-1 in the study's results.

    Args:
        rows: the study's result rows (``results.json``'s).
        method: the row's model, e.g. ``"simclr-object_crop"``.
        protocol: ``"linear"``, ``"knn"`` or ``"finetune"``.
        labels: the label fraction.

    Returns:
        The mean top-1, NaN when the study has no such row."""
    return next((row["top1_mean"] for row in rows
                 if (row["method"], row["protocol"], row["labels"]) == (method, protocol, labels)),
                float("nan"))


def _column_title(protocol: str, labels: float) -> str:
    title = {"linear": "linear", "knn": "kNN", "finetune": "end to end"}.get(protocol, protocol)
    return f"{title}, {labels:.0%} labels"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table: one line per backbone, one column per (protocol, labels),
    most labels first, each cell ``mean ± std`` in percent. The majority-class floor
    (protocol ``floor``) fills every column of its budget."""
    order = {"linear": 0, "knn": 1, "finetune": 2}
    columns = sorted({(row["protocol"], row["labels"]) for row in rows
                      if row["protocol"] != FLOOR}, key=lambda c: (-c[1], order.get(c[0], 3)))
    methods = list(dict.fromkeys(row["method"] for row in rows))
    cells: dict[tuple[str, str, float], str] = {}
    for row in rows:
        text = f"{100 * row['top1_mean']:.1f} ± {100 * row['top1_std']:.1f}"
        targets = [p for p, f in columns if f == row["labels"]] if row["protocol"] == FLOOR \
            else [row["protocol"]]
        cells.update({(row["method"], p, row["labels"]): text for p in targets})
    header = "| method | " + " | ".join(_column_title(p, f) for p, f in columns) + " |"
    lines = [header, "|---" * (len(columns) + 1) + "|"]
    for method in methods:
        lines.append(f"| {method} | " + " | ".join(
            cells.get((method, p, f), "–") for p, f in columns) + " |")
    return "\n".join(lines)
