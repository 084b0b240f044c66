"""What ``fgssl demo`` shows of each backbone beyond accuracy: its neighbours, its map, and
where it looks — three figures and their numbers.

For one frozen backbone, on the test split:

- ``neighbours_<name>.png`` and retrieval scores (:mod:`fgssl.viz.neighbours`);
- ``tsne_<name>.png`` and what the map kept (:mod:`fgssl.viz.embed`);
- ``gradcam_<name>.png`` and, on SynthBirds, the pointing game (:mod:`fgssl.viz.cam`): how
  often the Grad-CAM peak for the true species, explained through the backbone's linear
  probe, falls near the part that tells the bird from its sibling species (``part``), and
  inside the bird's box (``box``); on CUB, near any visible part and inside the box.

Example::

    >>> numbers = feature_views(backbone, "synthbirds", profile("cpu"), None,
    ...                         Path("runs/demo"), "simclr", C=0.1)    # doctest: +SKIP
    >>> numbers["pointing"]["part"]["hit_rate"], numbers["pointing"]["part"]["chance"]
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from fgssl.config import Profile
from fgssl.data import catalog
from fgssl.data import synthbirds as sb
from fgssl.evaluate.features import FrozenFeatures, at_input_size, extract_features
from fgssl.evaluate.probe import C_GRID, fit_linear_probe
from fgssl.viz.cam import PAPER_TOLERANCE, grad_cam, pointing_game, pointing_game_boxes
from fgssl.viz.embed import embed, embedding_figure, embedding_scores
from fgssl.viz.images import heatmaps
from fgssl.viz.neighbours import neighbour_grid, retrieval_metrics

SHOWN = 12  # images in the neighbour and Grad-CAM figures
FIGURES = ("tsne", "neighbours", "gradcam")  # saved as <kind>_<name>.png


def feature_views(backbone: nn.Module, data: str, prof: Profile, root: str | None,
                  out: Path, name: str, C: float | None = None, batch_size: int = 200,
                  features: FrozenFeatures | None = None) -> dict[str, Any]:
    """Save the three figures of a backbone's features to ``out`` (images at the size it reads:
    :func:`~fgssl.evaluate.features.at_input_size`) and return their numbers.

    Args:
        backbone, data, prof, root: (B, 3, H, W) float -> (B, D); the dataset, profile, root.
        out, name: the figures' folder; the model's name in their file names and titles.
        C, batch_size: the probe's C if chosen on val (else chosen here); images per pass.
        features: the backbone's features by split where already extracted (as
            :func:`~fgssl.evaluate.protocol.evaluate_jobs` keeps them); the others are
            extracted here.

    Returns:
        ``retrieval`` (Recall@1, Recall@5, mAP@R), ``tsne`` (kNN in the map and in the
        features, silhouette), ``pointing`` (``part`` and ``box``; None without annotations)."""
    prof = at_input_size(backbone, prof)
    splits = {split: catalog.dataset(data, split, root, size=prof.image_size, profile=prof)
              for split in ("train", "val", "test")}
    known = features or {}
    features = {split: known[split] if split in known else extract_features(backbone, dataset)
                for split, dataset in splits.items()}
    test_x, test_y = features["test"]
    images = torch.stack([splits["test"][i][0] for i in range(len(test_y))])  # (N, 3, S, S)
    class_names = list(sb.SPECIES_NAMES) if data == "synthbirds" else \
        catalog.collection(data, root)[0].classes
    out.mkdir(parents=True, exist_ok=True)
    numbers = _neighbourhoods(images, test_x, test_y, class_names, data == "synthbirds", out,
                              name)
    probe = fit_linear_probe(*features["train"], *features["val"],
                             c_grid=(C,) if C is not None else C_GRID)
    head = probe.as_layer()
    maps = torch.cat([grad_cam(backbone, head, images[i:i + batch_size],
                               torch.as_tensor(test_y[i:i + batch_size]))
                      for i in range(0, len(images), batch_size)])  # (N, S, S)
    points, visible, boxes = _targets(splits["test"], data, root, prof)
    tolerance = PAPER_TOLERANCE * prof.image_size
    pointing = {}
    if points is not None:
        pointing["part"] = {**pointing_game(maps, points, tolerance, visible),
                            "tolerance_px": tolerance}
    if boxes is not None:
        pointing["box"] = pointing_game_boxes(maps, boxes)
    numbers["pointing"] = pointing or None
    shown = _one_per_class(test_y, SHOWN)
    titles = [f"{class_names[test_y[i]]}" for i in shown]
    _save(heatmaps(images[shown], maps[shown], titles,
                   keypoints=points[shown] if points is not None and data == "synthbirds"
                   else None),
          out / f"gradcam_{name}.png", f"{name}: Grad-CAM of the true class through the "
          "linear probe" + ("; cyan: the part that differs from the sibling species"
                            if data == "synthbirds" else ""))
    return numbers


def _neighbourhoods(images: torch.Tensor, features: np.ndarray, labels: np.ndarray,
                    class_names: list[str], siblings: bool, out: Path, name: str
                    ) -> dict[str, Any]:
    """Retrieval on the test split, its nearest-neighbour grid and its t-SNE map (with the
    sibling pairs marked where ``siblings``), saved to ``out``: images (N, 3, S, S), features
    (N, D), labels (N,) -> ``retrieval`` and ``tsne`` numbers."""
    numbers: dict[str, Any] = {"retrieval": retrieval_metrics(features, labels, ks=(1, 5))}
    queries = _one_per_class(labels, SHOWN // 2)
    _save(neighbour_grid(images, features, labels, queries, k=5, class_names=class_names),
          out / f"neighbours_{name}.png",
          f"{name}: nearest test images by cosine similarity (green: the query's class)")
    xy = embed(features, "tsne", cache=out / "embeddings")
    numbers["tsne"] = embedding_scores(xy, labels, features)
    pairs = [(c, sb.sibling_of(c)) for c in range(0, sb.NUM_CLASSES, 2)] if siblings else None
    _save(embedding_figure({name: xy}, labels, class_names, pairs, {name: numbers["tsne"]}),
          out / f"tsne_{name}.png", "")
    return numbers


def _one_per_class(labels: np.ndarray, count: int) -> list[int]:
    """The first image of each of the first ``count`` classes present."""
    firsts = {int(label): i for i, label in reversed(list(enumerate(labels)))}
    return [firsts[c] for c in sorted(firsts)[:count]]


def _targets(test: Any, data: str, root: str | None, prof: Profile
             ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """What the pointing game aims at on the test split: points (N, K, 2) with their
    visibility (N, K) and boxes (N, 4), each None when the dataset has none. SynthBirds: the
    part that differs from the sibling species, and the bird's box; CUB: every visible part
    (a hit near any of them), and the bird's box."""
    if data == "synthbirds":
        rendered = _rendered_test(len(test), prof.image_size)
        if not np.array_equal(rendered.labels, np.asarray(test.labels)):
            raise RuntimeError("the SynthBirds test split on disk does not match the "
                               "renderer: delete its cache and run fgssl data prepare "
                               "synthbirds again")
        points = sb.discriminative_points(rendered.labels, rendered.keypoints)[:, None]
        return points, None, rendered.boxes
    found = catalog.annotations(data, "test", root, prof.image_size)
    if found.parts is None:
        return None, None, found.boxes
    return found.parts[..., :2], found.parts[..., 2] > 0, found.boxes


@functools.lru_cache(maxsize=2)
def _rendered_test(count: int, size: int) -> sb.RenderedBatch:
    """SynthBirds' first ``count`` test birds at ``size`` px with their parts and boxes,
    rendered once per process (a demo worker draws the figures of several backbones)."""
    return sb.SynthBirds(0).render("test", range(count), size)


def _save(figure: plt.Figure, path: Path, title: str) -> None:
    if title:
        figure.suptitle(title, y=1.03, fontsize=10)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)


def figures_table(figures: dict[str, dict[str, Any]]) -> str:
    """A markdown table of :func:`feature_views`' numbers, one line per backbone, and what
    the columns mean."""
    lines = ["| method | Recall@1 | mAP@R | kNN in the t-SNE map | kNN in the features "
             "| Grad-CAM peak on the part (chance) | in the box (chance) |",
             "|---|---|---|---|---|---|---|"]
    for name, numbers in figures.items():
        pointing = numbers["pointing"] or {}
        hits = [f"{p['hit_rate']:.1%} ({p['chance']:.1%})" if p else "–"
                for p in (pointing.get("part"), pointing.get("box"))]
        lines.append(f"| {name} | {numbers['retrieval']['recall@1']:.1%} "
                     f"| {numbers['retrieval']['map@r']:.3f} | {numbers['tsne']['knn_2d']:.1%} "
                     f"| {numbers['tsne']['knn_features']:.1%} | {' | '.join(hits)} |")
    return ("## What each backbone's features look like (test split)\n\n"
            "Leave-one-out retrieval by cosine similarity (Recall@1, mAP@R); a 10-NN vote in "
            "the 2-D t-SNE map beside the same in the features (what the map kept); how often "
            "the Grad-CAM peak for the true class, through the backbone's linear probe, lies "
            "within 15/224 of the image side of the part that tells a SynthBirds bird from its "
            "sibling species (on CUB: of any visible part), or inside the object's box, each "
            "beside the share of the image within reach (a random peak's score). "
            "Figures: `tsne_<method>.png`, `neighbours_<method>.png`, `gradcam_<method>.png`."
            "\n\n" + "\n".join(lines) + "\n")
