"""Training curves and small charts: the plots the method notebooks draw from a run.

Each helper draws on a matplotlib ``Axes`` (from :func:`panels`) and returns it, so a
notebook composes a figure in a few lines. A record without a plotted key is skipped, so
histories whose monitors ran every few epochs plot as they are.

Example::

    >>> figure, (loss, knn) = panels(2)                                 # doctest: +SKIP
    >>> plot_history(loss, history, {"NT-Xent": "loss"}, title="pretext loss")
    >>> plot_history(knn, history, {"kNN": "knn_top1"}, hlines={"chance": 1 / 24})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def panels(count: int, width: float = 4.5, height: float = 3.0) -> tuple[Figure, list[Axes]]:
    """A figure of panels side by side, laid out tightly when drawn.

    Args:
        count: how many panels.
        width: each panel's width in inches.
        height: their height in inches.

    Returns:
        The figure and its ``count`` axes."""
    figure, axes = plt.subplots(1, count, figsize=(width * count, height), squeeze=False,
                                layout="tight")
    return figure, list(axes[0])


def plot_history(ax: Axes, records: Sequence[Mapping[str, Any]], series: Mapping[str, str],
                 x: str = "epoch", hlines: Mapping[str, float] | None = None,
                 vlines: Mapping[str, float] | None = None, marker: str | None = "o",
                 **labels: Any) -> Axes:
    """Training curves: each series against ``x``, skipping the records that lack its key.

    Args:
        ax: where to draw.
        records: e.g. a method's ``history`` (one dict per epoch) or ``trace``.
        series: legend label -> key of the records.
        x: the key along the x axis.
        hlines: dotted horizontal reference lines, label -> value.
        vlines: dotted vertical reference lines, label -> value.
        marker: the points' marker (None: lines only).
        **labels: passed to ``ax.set`` (title, xlabel, ylabel, ylim, yscale).

    Returns:
        ``ax``."""
    for label, key in series.items():
        points = [(r[x], r[key]) for r in records if key in r and x in r]
        if points:
            ax.plot(*zip(*points, strict=True), marker=marker, label=label)
    for label, value in (hlines or {}).items():
        ax.axhline(value, color="grey", linestyle=":", label=label)
    for label, value in (vlines or {}).items():
        ax.axvline(value, color="grey", linestyle="--", label=label)
    ax.set(**{"xlabel": x, **labels})
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return ax


def bar_chart(ax: Axes, groups: Mapping[str, Mapping[str, float]], **labels: Any) -> Axes:
    """Grouped bars: one colour per group, the categories of the first group along the x axis.

    Args:
        ax: where to draw.
        groups: legend label -> category -> value.
        **labels: passed to ``ax.set`` (title, ylabel, ...).

    Returns:
        ``ax``."""
    categories = list(next(iter(groups.values())))
    width = 0.8 / len(groups)
    for k, (label, values) in enumerate(groups.items()):
        ax.bar(np.arange(len(categories)) + (k - (len(groups) - 1) / 2) * width,
               [values[c] for c in categories], width, label=label or None)
    ax.set_xticks(np.arange(len(categories)), categories)
    ax.set(**labels)
    if len(groups) > 1:
        ax.legend(fontsize=8)
    return ax


def histogram(ax: Axes, samples: Mapping[str, Sequence[float] | np.ndarray],
              bins: Sequence[float] | int = 10, **labels: Any) -> Axes:
    """Side-by-side histograms of named samples.

    Args:
        ax: where to draw.
        samples: legend label -> values.
        bins: the bins' edges, or how many.
        **labels: passed to ``ax.set`` (e.g. ``yscale="log"``).

    Returns:
        ``ax``."""
    ax.hist([np.asarray(s) for s in samples.values()], bins=bins, label=list(samples))
    ax.set(**labels)
    ax.legend(fontsize=8)
    return ax


def similarity_matrix(ax: Axes, z1: torch.Tensor, z2: torch.Tensor) -> Axes:
    """SimCLR's 2N × 2N cosine similarity matrix of two views' projections, rows and columns
    ordered view 1 then view 2; the diagonal (a view is not its own negative) is left blank
    and each row's positive, its partner view, is ringed. Row i is the logit vector
    NT-Xent's cross-entropy reads (Chen et al. 2020, eq. 1).

    Args:
        ax: where to draw.
        z1: (N, d) projections of the first views.
        z2: (N, d) projections of the second views, row i from the same image as z1's.

    Returns:
        ``ax``."""
    z = torch.nn.functional.normalize(torch.cat([z1, z2]).float(), dim=1)  # (2N, d)
    similarity = (z @ z.T).numpy()
    np.fill_diagonal(similarity, np.nan)
    count = len(z1)
    shown = ax.imshow(similarity, cmap="viridis")  # the colours span the off-diagonal values
    partners = np.r_[np.arange(count, 2 * count), np.arange(count)]  # (2N,) column of i's pair
    ax.scatter(partners, np.arange(2 * count), s=60, facecolors="none", edgecolors="red",
               label="positive (the other view)")
    ax.axhline(count - 0.5, color="white", lw=0.8)
    ax.axvline(count - 0.5, color="white", lw=0.8)
    ax.set(xlabel="view k (view 1s, then view 2s)", ylabel="view i",
           title=f"sim(z_i, z_k) of {2 * count} views")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize=8)
    ax.figure.colorbar(shown, ax=ax, fraction=0.046)
    return ax
