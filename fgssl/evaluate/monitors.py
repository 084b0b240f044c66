"""What pretraining watches on val after every epoch: monitors handed to :func:`fgssl.train.fit`.

- :class:`KNNMonitor`: a weighted-kNN classifier on the backbone's frozen features, which
  shows learning while a self-supervised method trains (solo-learn's online kNN);
- :class:`PretextMonitor`: the method's own pretext metrics on held-out images, so that a
  pretext task solved on training images but not on new ones (memorised) shows.

Example::

    >>> fit(method, pool, "cpu", watch=Watch(monitors=[KNNMonitor(train, val)]))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from fgssl.evaluate.features import extract_features
from fgssl.evaluate.metrics import effective_rank
from fgssl.evaluate.probe import knn_predict
from fgssl.methods.base import Method


class KNNMonitor:
    """``knn_top1``: weighted-kNN top-1 of the backbone's features, ``bank`` (labelled) voting
    for ``queries`` (val); and ``feature_rank``, the effective rank of the queries' features
    (:func:`~fgssl.evaluate.metrics.effective_rank`: about 1 when they have collapsed). Cheap
    enough to run every epoch."""

    def __init__(self, bank: Dataset, queries: Dataset, k: int = 20) -> None:
        self.bank, self.queries, self.k = bank, queries, k

    def __call__(self, method: Method, device: torch.device) -> dict[str, Any]:
        bank_x, bank_y = extract_features(method.backbone, self.bank, device=device)
        query_x, query_y = extract_features(method.backbone, self.queries, device=device)
        return {"knn_top1": float((knn_predict(bank_x, bank_y, query_x, self.k) == query_y).mean()),
                "feature_rank": effective_rank(torch.from_numpy(query_x))}


class PretextMonitor:
    """``val_<name>``: the method's :meth:`~fgssl.methods.base.Method.pretext_metrics` on the
    first ``limit`` images of ``queries`` (val)."""

    def __init__(self, queries: Dataset, limit: int = 1024) -> None:
        count = min(limit, len(queries))
        self.images = torch.stack([queries[i][0] for i in range(count)])  # (N, 3, H, W) uint8

    def __call__(self, method: Method, device: torch.device) -> dict[str, Any]:
        metrics = method.pretext_metrics(self.images.to(device))
        return {f"val_{name}": value for name, value in metrics.items()}
