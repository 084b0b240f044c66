"""The comparison at the heart of the study: every backbone, every protocol, every label
budget, repeated over evaluation seeds, reported as mean ± std.

Each evaluation goes through :func:`~fgssl.evaluate.protocol.evaluate_backbone`, the one
function that reads the test split, so every backbone sees the same splits, the same label
subsets (a seed picks the subset, nested across budgets) and the same val-only selection. A
row is JSON-ready (the shape of ``results.json``'s rows in DESIGN.md).

Example::

    >>> rows = compare({"random": backbone}, "synthbirds", "cpu", fractions=(1.0, 0.1))
    ...                                                    # doctest: +SKIP
    >>> print(markdown_table(rows))                        # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import nn
from tqdm.auto import tqdm

from fgssl.config import Profile
from fgssl.config import profile as get_profile
from fgssl.evaluate.metrics import summarise
from fgssl.evaluate.protocol import evaluate_backbone


def low_label_fraction(labels: np.ndarray, per_class: int = 10) -> float:
    """The label fraction that gives every class at most ``per_class`` images (the largest
    class exactly that many): the study's low-label point, recorded as the fraction it is."""
    largest = int(np.bincount(np.asarray(labels)).max())
    return min(1.0, per_class / largest)


def compare(backbones: dict[str, nn.Module], data: str, profile: str | Profile | None = None,
            protocols: Sequence[str] = ("linear", "knn"), fractions: Sequence[float] = (1.0,),
            seeds: int = 2, root: str | None = None, progress: bool = True
            ) -> list[dict[str, Any]]:
    """One row per (backbone, protocol, label fraction): top-1 and mean per-class accuracy
    over evaluation seeds 0 … ``seeds``-1 (label subset and probe initialisation), with the
    per-seed values, the majority floor and the wall time of the row."""
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    jobs = [(name, protocol, fraction) for name in backbones for protocol in protocols
            for fraction in fractions]
    rows = []
    for name, protocol, fraction in tqdm(jobs, desc="evaluating", disable=not progress):
        started = time.perf_counter()
        results = [evaluate_backbone(backbones[name], data, prof, protocol, fraction, seed,
                                     root) for seed in range(seeds)]
        top1 = summarise([r["top1"] for r in results])
        per_class = summarise([r["mean_per_class_acc"] for r in results])
        rows.append({
            "method": name, "protocol": protocol, "labels": fraction,
            "top1_mean": top1["mean"], "top1_std": top1["std"], "seeds": seeds,
            "top1_values": top1["values"], "mean_per_class_mean": per_class["mean"],
            "n_train": results[0]["n_train"], "majority_floor": results[0]["majority_floor"],
            "wall_s": round(time.perf_counter() - started, 1)})
    return rows


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table: one line per backbone, one column per (protocol, labels),
    each cell ``mean ± std`` in percent."""
    columns = list(dict.fromkeys((row["protocol"], row["labels"]) for row in rows))
    methods = list(dict.fromkeys(row["method"] for row in rows))
    cells = {(row["method"], row["protocol"], row["labels"]):
             f"{100 * row['top1_mean']:.1f} ± {100 * row['top1_std']:.1f}" for row in rows}
    header = "| method | " + " | ".join(f"{p}, {f:.0%} labels" for p, f in columns) + " |"
    lines = [header, "|---" * (len(columns) + 1) + "|"]
    for method in methods:
        lines.append(f"| {method} | " + " | ".join(
            cells.get((method, p, f), "–") for p, f in columns) + " |")
    return "\n".join(lines)
