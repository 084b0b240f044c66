"""Maps of a representation: t-SNE and UMAP of frozen features, with a number beside each.

**t-SNE** (van der Maaten & Hinton 2008) and **UMAP** (McInnes, Healy & Melville 2018) place
points in 2-D so that neighbours in feature space stay neighbours. Read them for *who is
next to whom*, never for distances between clusters, cluster sizes or "gaps": both stretch
and shrink space freely, and a different perplexity (t-SNE) or ``n_neighbors`` (UMAP) can
redraw the picture. So each map comes with numbers that do not depend on how it was drawn:
the leave-one-out kNN accuracy *in the 2-D map* beside the same in the full feature space
(what the map kept), and the silhouette of the classes in the map.

Embeddings are cached on disk by a hash of the features and the settings, so re-plotting is
instant.

Example::

    >>> xy = embed(features, "tsne", cache=Path("runs/embeddings"))   # doctest: +SKIP
    >>> embedding_scores(xy, labels, features)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

from fgssl.utils import atomic_save_array
from fgssl.viz.images import as_hwc_uint8
from fgssl.viz.neighbours import ranked_neighbours

METHODS = ("tsne", "umap")
PCA_DIMENSIONS = 50  # both methods start from the first 50 principal components (common practice)


def embed(features: np.ndarray, method: str = "tsne", seed: int = 0,
          cache: str | os.PathLike[str] | None = None, perplexity: float = 30.0
          ) -> np.ndarray:
    """A 2-D map of features by t-SNE (van der Maaten & Hinton 2008; PCA init) or UMAP
    (McInnes et al. 2018; 15 neighbours, min_dist 0.1), after standardising and PCA to at most
    50 dimensions.

    Args:
        features: (N, D).
        method: ``"tsne"`` or ``"umap"``.
        seed: seeds the map.
        cache: a folder the map is read from, or written to the first time.
        perplexity: t-SNE's perplexity.

    Returns:
        (N, 2) float32 coordinates."""
    if method not in METHODS:
        raise ValueError(f"unknown embedding {method!r}: choose one of {', '.join(METHODS)}")
    features = np.ascontiguousarray(features, dtype=np.float32)
    if len(features) < 5:
        raise ValueError(f"need at least 5 points to embed, got {len(features)}")
    settings = f"{features.shape}{method}{seed}" + (f"{perplexity}" if method == "tsne" else "")
    key = hashlib.sha256(features.tobytes() + settings.encode())
    path = Path(cache) / f"{method}_{key.hexdigest()[:16]}.npy" if cache is not None else None
    if path is not None and path.is_file():
        return np.load(path)
    x = StandardScaler().fit_transform(features)
    x = PCA(min(PCA_DIMENSIONS, *x.shape), random_state=seed).fit_transform(x)
    if method == "tsne":
        coordinates = TSNE(perplexity=min(perplexity, (len(x) - 1) / 3), init="pca",
                           learning_rate="auto", random_state=seed).fit_transform(x)
    else:
        import umap  # numba compiles it on first use: imported only when asked for

        coordinates = umap.UMAP(n_neighbors=min(15, len(x) - 1), min_dist=0.1,
                                random_state=seed, n_jobs=1).fit_transform(x)  # seeded: serial
    coordinates = coordinates.astype(np.float32)
    if path is not None:
        atomic_save_array(coordinates, path)
    return coordinates


def leave_one_out_knn(points: np.ndarray, labels: np.ndarray, k: int = 10,
                      cosine: bool = False) -> float:
    """Top-1 of a k-nearest-neighbour vote (Euclidean, or cosine) where each point is
    classified by the others."""
    labels = np.asarray(labels)
    k = min(k, len(labels) - 1)
    if cosine:  # the retrieval ranking of fgssl.viz.neighbours
        index = ranked_neighbours(points, k)[0]
    else:
        x = torch.as_tensor(np.asarray(points, dtype=np.float32))
        distances = torch.cdist(x, x)
        distances.fill_diagonal_(float("inf"))
        index = distances.topk(k, largest=False).indices
    neighbours = labels[index.numpy()]  # (N, k)
    votes = np.zeros((len(labels), int(labels.max()) + 1))
    np.add.at(votes, (np.repeat(np.arange(len(labels)), k), neighbours.ravel()), 1.0)
    return float((votes.argmax(1) == labels).mean())


def embedding_scores(coordinates: np.ndarray, labels: np.ndarray,
                     features: np.ndarray | None = None, k: int = 10
                     ) -> dict[str, float | None]:
    """What a 2-D map kept of the features.

    Args:
        coordinates: (N, 2) the map.
        labels: (N,) the classes.
        features: (N, D) the features mapped, for the full-space comparison.
        k: neighbours for the kNN.

    Returns:
        ``knn_2d``, the leave-one-out kNN top-1 in the map; ``knn_features``, the same in the
        full space by cosine (None without ``features``); ``silhouette``, of the classes in
        the map, in [-1, 1] (None where undefined: fewer than two classes, or no class with
        two images)."""
    labels = np.asarray(labels)
    scores: dict[str, float | None] = {"knn_2d": leave_one_out_knn(coordinates, labels, k)}
    if features is not None:
        scores["knn_features"] = leave_one_out_knn(features, labels, k, cosine=True)
    classes = len(np.unique(labels))
    scores["silhouette"] = float(silhouette_score(coordinates, labels)) \
        if 2 <= classes < len(labels) else None
    return scores


def class_styles(num_classes: int, pairs: Sequence[tuple[int, int]] | None = None
                 ) -> list[dict[str, object]]:
    """Matplotlib styles per class: with sibling ``pairs`` each pair shares a colour, its
    first member a filled dot and its second a cross, so a map shows whether siblings part."""
    palette = plt.get_cmap("tab20").colors + plt.get_cmap("tab20b").colors
    styles: list[dict[str, object]] = [
        {"color": palette[c % len(palette)], "marker": "o"} for c in range(num_classes)]
    for hue, (first, second) in enumerate(pairs or ()):
        colour = plt.get_cmap("tab20").colors[2 * (hue % 10)] if hue < 10 else \
            plt.get_cmap("Dark2").colors[hue % 8]
        styles[first] = {"color": colour, "marker": "o"}
        styles[second] = {"color": colour, "marker": "x"}
    return styles


def embedding_figure(maps: dict[str, np.ndarray], labels: np.ndarray,
                     class_names: Sequence[str] | None = None,
                     pairs: Sequence[tuple[int, int]] | None = None,
                     scores: dict[str, dict[str, float]] | None = None,
                     panel_inches: float = 3.6) -> Figure:
    """One map per method, side by side with one shared legend.

    Args:
        maps: method name -> (N, 2) coordinates.
        labels: (N,) the classes, one colour each.
        class_names: the legend's names (default: the numbers).
        pairs: sibling pairs, each pair in one colour: a dot for the first, a cross for the
            second.
        scores: method name -> numbers for its panel's title (:func:`embedding_scores`).
        panel_inches: each panel's side.

    Returns:
        The figure."""
    labels = np.asarray(labels)
    num_classes = int(labels.max()) + 1
    styles = class_styles(num_classes, pairs)
    figure, axes = plt.subplots(1, len(maps), squeeze=False,
                                figsize=(panel_inches * len(maps), panel_inches + 0.9))
    for ax, (name, xy) in zip(axes[0], maps.items(), strict=True):
        for c in range(num_classes):
            chosen = labels == c
            ax.scatter(xy[chosen, 0], xy[chosen, 1], s=7, linewidths=0.8, alpha=0.8,
                       **styles[c])
        title = name
        if scores and name in scores:
            title += "\n" + ", ".join(f"{k} {v:.2f}" for k, v in scores[name].items()
                                      if v is not None)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    names = class_names or [str(c) for c in range(num_classes)]
    handles = [Line2D([], [], linestyle="", markersize=5, label=names[c], **styles[c])
               for c in range(num_classes)]
    figure.legend(handles=handles, loc="lower center", ncol=min(12, num_classes), fontsize=7,
                  frameon=False, handletextpad=0.1, columnspacing=0.8)
    figure.tight_layout(rect=(0, 0.08 + 0.03 * (num_classes // 12), 1, 1))
    return figure


def highlight_class(maps: dict[str, np.ndarray], labels: np.ndarray,
                    images: np.ndarray | torch.Tensor, chosen: int,
                    class_names: Sequence[str] | None = None,
                    pairs: Sequence[tuple[int, int]] | None = None, examples: int = 6,
                    panel_inches: float = 3.0) -> Figure:
    """Where class ``chosen`` lies in each map (name -> (N, 2)): its points in colour, its
    sibling's (from ``pairs``) as crosses, the rest in grey; below, ``examples`` of its
    images."""
    labels = np.asarray(labels)
    names = class_names or [str(c) for c in range(int(labels.max()) + 1)]
    sibling = next((b if a == chosen else a for a, b in pairs or () if chosen in (a, b)), None)
    figure = plt.figure(figsize=(panel_inches * max(len(maps), 2), panel_inches + 1.6))
    top, bottom = figure.subfigures(2, 1, height_ratios=(panel_inches, 1.4))
    for ax, (name, xy) in zip(top.subplots(1, len(maps), squeeze=False)[0], maps.items(),
                              strict=True):
        ax.scatter(xy[:, 0], xy[:, 1], s=4, color="0.85")
        if sibling is not None:
            mine = labels == sibling
            ax.scatter(xy[mine, 0], xy[mine, 1], s=14, marker="x", color="tab:blue",
                       label=f"sibling {names[sibling]}")
        mine = labels == chosen
        ax.scatter(xy[mine, 0], xy[mine, 1], s=14, color="tab:red", label=names[chosen])
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    top.axes[0].legend(fontsize=7, loc="best")
    pictures = as_hwc_uint8(images)[np.flatnonzero(labels == chosen)[:examples]]
    for ax, picture in zip(bottom.subplots(1, examples, squeeze=False)[0],
                           [*pictures, *[None] * examples], strict=False):
        ax.axis("off")
        if picture is not None:
            ax.imshow(picture)
    return figure
