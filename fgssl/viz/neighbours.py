"""Nearest neighbours: the most honest picture of a representation, and its retrieval scores.

Every image of a split is a query against all the others (leave-one-out), ranked by cosine
similarity of frozen features. Three scores, each in [0, 1]:

- **Recall@k**: the fraction of queries with at least one image of their class among their k
  nearest neighbours (the image-retrieval convention, e.g. Song et al. 2016, CUB-200).
- **mAP@R** (Musgrave, Belongie & Lim 2020, "A Metric Learning Reality Check"): for a query
  whose class has R other images, the mean over ranks i ≤ R of precision@i counted at the
  relevant ranks only, ``(1/R) Σ_{i ≤ R} P(i)·rel(i)``; it rewards putting *all* of a class
  first, not just one lucky neighbour.

Example::

    >>> features = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> retrieval_metrics(features, np.array([0, 0, 1, 1]), ks=(1,))
    {'recall@1': 1.0, 'map@r': 1.0}
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from fgssl.viz.images import as_hwc_uint8


def ranked_neighbours(features: np.ndarray | torch.Tensor, k: int | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (N, k) and cosine similarities (N, k) of each row's k nearest other rows,
    nearest first (k = N - 1 when not given); a row is never its own neighbour."""
    x = F.normalize(torch.as_tensor(np.asarray(features), dtype=torch.float32), dim=1)
    if len(x) < 2:
        raise ValueError(f"need at least two feature vectors to rank neighbours, got {len(x)}")
    k = len(x) - 1 if k is None else min(k, len(x) - 1)
    similarity = x @ x.T  # (N, N)
    similarity.fill_diagonal_(float("-inf"))
    values, index = similarity.topk(k, dim=1)
    return index, values


def retrieval_metrics(features: np.ndarray | torch.Tensor, labels: np.ndarray,
                      ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Leave-one-out retrieval by cosine similarity: every image a query against all the
    others.

    Args:
        features: (N, D).
        labels: (N,) classes; a neighbour of the query's class is a hit.
        ks: the k of each recall@k.

    Returns:
        ``recall@k`` for each k (a hit among the k nearest) and ``map@r`` (mean average
        precision over the first R, R being the number of other images of the query's class)."""
    labels = torch.as_tensor(np.asarray(labels))
    index, _ = ranked_neighbours(features)
    relevant = labels[index] == labels[:, None]  # (N, N-1), nearest first
    metrics = {f"recall@{k}": float(relevant[:, :k].any(1).float().mean()) for k in ks}
    others = relevant.sum(1)  # R: how many other images share the query's class
    ranks = torch.arange(1, relevant.shape[1] + 1)
    precision = relevant.cumsum(1) / ranks  # P(i)
    within_r = ranks[None, :] <= others[:, None]
    per_query = (precision * relevant * within_r).sum(1) / others.clamp(min=1)
    metrics["map@r"] = float(per_query[others > 0].mean()) if (others > 0).any() else 0.0
    return metrics


def neighbour_grid(images: np.ndarray | torch.Tensor, features: np.ndarray | torch.Tensor,
                   labels: np.ndarray, queries: Sequence[int], k: int = 5,
                   class_names: Sequence[str] | None = None, cell_inches: float = 1.3
                   ) -> Figure:
    """Nearest neighbours by cosine similarity of the features: one row per query, the query
    image then its k nearest other images, each framed green when it has the query's class
    and red when not.

    Args:
        images: (N, 3, H, W) or (N, H, W, 3), uint8 or float in [0, 1].
        features: (N, D).
        labels: (N,) classes.
        queries: indices of the query images.
        k: neighbours per query.
        class_names: for the titles (default: the numbers).
        cell_inches: each image's side.

    Returns:
        The figure."""
    index, similarity = ranked_neighbours(features, k)
    figure, axes = plt.subplots(len(queries), k + 1, squeeze=False,
                                figsize=(cell_inches * (k + 1), cell_inches * len(queries)))
    for row, query in zip(axes, queries, strict=True):
        _draw_row(row, as_hwc_uint8(images), np.asarray(labels), query, index[query],
                  similarity[query], class_names)
    figure.tight_layout()
    return figure


def neighbours_by_method(images: np.ndarray | torch.Tensor,
                         features: dict[str, np.ndarray | torch.Tensor], labels: np.ndarray,
                         query: int, k: int = 5, class_names: Sequence[str] | None = None,
                         cell_inches: float = 1.3) -> Figure:
    """One row per method (name -> (N, D) features): the same query, then its k nearest
    neighbours under that method's features, framed as in :func:`neighbour_grid`."""
    figure, axes = plt.subplots(len(features), k + 1, squeeze=False,
                                figsize=(cell_inches * (k + 1), cell_inches * len(features)))
    for row, (name, method_features) in zip(axes, features.items(), strict=True):
        index, similarity = ranked_neighbours(method_features, k)
        _draw_row(row, as_hwc_uint8(images), np.asarray(labels), query, index[query],
                  similarity[query], class_names)
        row[0].set_ylabel(name, fontsize=8)
    figure.tight_layout()
    return figure


def _draw_row(row: Sequence[Axes], pictures: np.ndarray, labels: np.ndarray, query: int,
              index: torch.Tensor, similarity: torch.Tensor,
              class_names: Sequence[str] | None) -> None:
    """A query and its ranked neighbours along one row of axes."""
    name = (lambda c: class_names[c]) if class_names is not None else str
    row[0].imshow(pictures[query])
    row[0].set_title(f"query: {name(labels[query])}", fontsize=7)
    for ax, neighbour, score in zip(row[1:], index.tolist(), similarity.tolist(), strict=True):
        ax.imshow(pictures[neighbour])
        same = labels[neighbour] == labels[query]
        ax.set_title(f"{score:.2f}", fontsize=7, color="green" if same else "red")
        for spine in ax.spines.values():
            spine.set(visible=True, color="green" if same else "red", linewidth=3)
    for ax in row:
        ax.set_xticks([])
        ax.set_yticks([])
