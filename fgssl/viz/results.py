"""Figures of the study's results: accuracy against the number of labels.

Example::

    >>> figure = label_efficiency(results["rows"])          # doctest: +SKIP
    >>> figure.savefig("label_efficiency.png")              # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from fgssl.evaluate.comparison import FLOOR

PANELS = {"linear": "linear probe (frozen)", "knn": "kNN (frozen)",
          "finetune": "end to end (fine-tuned, or from scratch)"}


def label_efficiency(rows: list[dict[str, Any]]) -> Figure:
    """Label efficiency: one panel per protocol, test top-1 (mean ± std over seeds) against the
    fraction of labels used, one line per method, the majority-class floor dashed in grey.

    Args:
        rows: the study's result rows (``results.json``'s).

    Returns:
        The figure."""
    protocols = [p for p in PANELS if any(row["protocol"] == p for row in rows)]
    if not protocols:
        raise ValueError("no rows of a linear, kNN or fine-tuning evaluation to plot")
    figure, axes = plt.subplots(1, len(protocols), figsize=(4.2 * len(protocols), 3.6),
                                sharey=True, squeeze=False)
    methods = list(dict.fromkeys(row["method"] for row in rows if row["protocol"] in PANELS))
    palette = plt.get_cmap("tab20").colors  # 20 colours, reused beyond (the demo has 16 rows)
    colours = {method: palette[i % len(palette)] for i, method in enumerate(methods)}
    floor = sorted((row["labels"], row["top1_mean"]) for row in rows
                   if row["protocol"] == FLOOR)
    for ax, protocol in zip(axes[0], protocols, strict=True):
        for method in methods:
            points = sorted((row["labels"], row["top1_mean"], row["top1_std"]) for row in rows
                            if row["method"] == method and row["protocol"] == protocol)
            if points:
                labels, means, stds = zip(*points, strict=True)
                ax.errorbar(labels, [100 * m for m in means], [100 * s for s in stds],
                            marker="o", capsize=3, label=method, color=colours[method])
        if floor:
            ax.plot(*zip(*[(f, 100 * v) for f, v in floor], strict=True), "--", color="grey",
                    label="majority class")
        ax.set_xscale("log")
        fractions = sorted({row["labels"] for row in rows})
        ax.set_xticks(fractions, [f"{f:.0%}" for f in fractions])
        ax.minorticks_off()
        ax.set_title(PANELS[protocol])
        ax.set_xlabel("fraction of the training labels")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test top-1 (%)")
    legend: dict[str, Any] = {}  # one entry per method over all panels
    for ax in axes[0]:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(name, handle)
    figure.legend(legend.values(), legend.keys(), loc="center left", bbox_to_anchor=(1.0, 0.5))
    figure.tight_layout()
    return figure
