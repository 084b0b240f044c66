"""Classification metrics for fine-grained evaluation.

Top-1 alone hides what fine-grained datasets do to rare classes, so every result also gets the
mean per-class accuracy (the mean of the confusion matrix's normalised diagonal) and macro-F1,
and is read against the majority-class floor (the study's cassava test split: 47% by always
answering the largest class). The confusion matrix is ``confusion[true, predicted]`` — the
study called ``confusion_matrix(pred, true)``, which transposes it.

:func:`alignment` and :func:`uniformity` describe the geometry of an embedding (Wang & Isola
2020, "Understanding contrastive representation learning through alignment and uniformity");
:func:`effective_rank` says how many directions it uses (a collapsed one: about 1).

Example::

    >>> classification_metrics([0, 0, 1, 2], [0, 1, 1, 2])["top1"]
    0.75
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import confusion_matrix, f1_score


def confusion(true: Sequence[int], predicted: Sequence[int], num_classes: int) -> np.ndarray:
    """(C, C) counts: row = true class, column = predicted class."""
    return confusion_matrix(true, predicted, labels=np.arange(num_classes))


def classification_metrics(true: Sequence[int], predicted: Sequence[int],
                           num_classes: int | None = None) -> dict[str, float]:
    """``top1``, ``mean_per_class_acc`` (over classes present in ``true``) and ``macro_f1``,
    all fractions in [0, 1]."""
    true, predicted = np.asarray(true), np.asarray(predicted)
    if true.shape != predicted.shape or true.ndim != 1 or len(true) == 0:
        raise ValueError(f"need two equal-length 1-D label arrays, got {true.shape} and "
                         f"{predicted.shape}")
    num_classes = num_classes or int(max(true.max(), predicted.max())) + 1
    counts = confusion(true, predicted, num_classes)
    present = counts.sum(axis=1) > 0
    per_class = counts.diagonal()[present] / counts.sum(axis=1)[present]
    return {
        "top1": float((true == predicted).mean()),
        "mean_per_class_acc": float(per_class.mean()),
        "macro_f1": float(f1_score(true, predicted, labels=np.flatnonzero(present),
                                   average="macro", zero_division=0)),
    }


def sibling_accuracy(scores: np.ndarray, true: Sequence[int],
                     pairs: Sequence[tuple[int, int]]) -> dict[str, Any]:
    """How often a classifier tells sibling species apart: for each pair (a, b), over the
    images of a or b, the fraction whose own class scores above its sibling's — a two-way
    choice, whatever the other classes score. ``scores`` (N, C), higher meaning more likely;
    ``mean`` over the pairs with images, and each pair's ``accuracy``."""
    scores, true = np.asarray(scores), np.asarray(true)
    results = []
    for a, b in pairs:
        mine = (true == a) | (true == b)
        if not mine.any():
            continue
        own = np.where(true[mine] == a, scores[mine, a], scores[mine, b])
        other = np.where(true[mine] == a, scores[mine, b], scores[mine, a])
        results.append({"pair": [int(a), int(b)], "accuracy": float((own > other).mean())})
    mean = float(np.mean([r["accuracy"] for r in results])) if results else float("nan")
    return {"mean": mean, "pairs": results}


def majority_floor(train_labels: Sequence[int], test_labels: Sequence[int]) -> float:
    """Test accuracy of always predicting the most frequent training class."""
    majority = np.bincount(np.asarray(train_labels)).argmax()
    return float((np.asarray(test_labels) == majority).mean())


def alignment(z1: torch.Tensor, z2: torch.Tensor, alpha: float = 2.0) -> float:
    """Alignment (Wang & Isola 2020): E ‖f(x) − f(y)‖^α over positive pairs. Lower: the two
    views of an image land close together.

    Args:
        z1: (N, D) embeddings of the first views.
        z2: (N, D) embeddings of the second views; both ℓ2-normalised here.
        alpha: α.

    Returns:
        The mean over the N pairs."""
    z1, z2 = F.normalize(z1.float(), dim=1), F.normalize(z2.float(), dim=1)
    return float((z1 - z2).norm(dim=1).pow(alpha).mean())


def uniformity(z: torch.Tensor, t: float = 2.0) -> float:
    """Uniformity (Wang & Isola 2020): log E exp(−t ‖f(x) − f(y)‖²) over all pairs of distinct
    rows. Lower: the embeddings spread over the sphere.

    Args:
        z: (N, D) embeddings, ℓ2-normalised here.
        t: the kernel's scale.

    Returns:
        The log of the mean over the N(N − 1)/2 pairs."""
    z = F.normalize(z.float(), dim=1)
    return float(torch.pdist(z).pow(2).mul(-t).exp().mean().log())


def effective_rank(z: torch.Tensor) -> float:
    """The effective rank (Roy & Vetterli 2007), as RankMe (Garrido et al. 2023) reads an SSL
    embedding: the exponential of the entropy of the normalised singular values σ_k / Σσ of
    the centred embeddings.

    Args:
        z: (N, D) embeddings.

    Returns:
        Between 1 (every row on one line: collapsed) and min(N, D) (the rows fill every
        direction alike)."""
    singular = torch.linalg.svdvals(z.double() - z.double().mean(dim=0))
    share = singular / singular.sum()
    share = share[share > 0]
    return float(torch.exp(-(share * share.log()).sum()))


def summarise(values: Sequence[float], digits: int = 4) -> dict[str, Any]:
    """Mean, sample standard deviation (0 for one value), count and the values themselves:
    how every repeated measurement is reported."""
    if not values:
        raise ValueError("nothing to summarise: no values")
    return {"mean": round(statistics.mean(values), digits),
            "std": round(statistics.stdev(values), digits) if len(values) > 1 else 0.0,
            "n": len(values), "values": [round(v, digits) for v in values]}
