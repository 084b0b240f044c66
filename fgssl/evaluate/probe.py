"""Judging frozen features: a linear probe and a weighted kNN, both tuned on val only.

- **Linear probe**: multinomial logistic regression on standardised features (the usual
  "linear evaluation protocol", Kolesnikov et al. 2019; Chen et al. 2020). Its L2
  regularisation C is chosen on the *validation* split; test is never looked at here.
- **Weighted kNN** (Wu et al. 2018, InstDisc): cosine similarity to a labelled bank; the k
  nearest neighbours vote with weights exp(s / t), t = 0.07.

Example::

    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(60, 4)), np.repeat([0, 1, 2], 20)
    >>> x[:, 0] += 3 * y
    >>> probe = fit_linear_probe(x[::2], y[::2], x[1::2], y[1::2])
    >>> float((probe.predict(x[1::2]) == y[1::2]).mean()) > 0.8
    True
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from torch import nn

C_GRID = (1e-3, 1e-2, 0.1, 1.0, 10.0)
K_GRID = (5, 10, 20, 50)


@dataclass
class LinearProbe:
    """A fitted probe: standardiser, classifier, and how it was chosen."""

    scaler: StandardScaler
    classifier: LogisticRegression
    C: float
    val_top1: float

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.classifier.predict(self.scaler.transform(features))

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Each class's score (N, C), the logits of the classifier (higher: more likely)."""
        logits = self.classifier.decision_function(self.scaler.transform(features))
        return np.stack([-logits / 2, logits / 2], 1) if logits.ndim == 1 else logits

    def as_layer(self) -> nn.Linear:
        """The probe as one torch layer, standardisation folded in: features (B, D) -> class
        scores (B, C), the logits of the classifier (what Grad-CAM differentiates)."""
        scale = self.scaler.scale_ if self.scaler.scale_ is not None else 1.0
        weight = self.classifier.coef_ / scale  # (C, D); (1, D) for two classes
        bias = self.classifier.intercept_ - weight @ self.scaler.mean_
        if len(weight) == 1:  # two classes: sklearn keeps one logit, z; softmax([-z/2, z/2])
            weight, bias = np.concatenate([-weight, weight]) / 2, np.array([-bias[0], bias[0]]) / 2
        layer = nn.Linear(weight.shape[1], len(weight))
        with torch.no_grad():
            layer.weight.copy_(torch.as_tensor(weight))
            layer.bias.copy_(torch.as_tensor(bias))
        return layer


def fit_linear_probe(train_features: np.ndarray, train_labels: np.ndarray,
                     val_features: np.ndarray, val_labels: np.ndarray,
                     c_grid: Sequence[float] = C_GRID, seed: int = 0) -> LinearProbe:
    """The linear probe: a logistic regression on standardised frozen features, its C chosen on
    val.

    The Cs are visited from the strongest regularisation up, each fit starting from the
    previous solution (a regularisation path), which takes a fraction of the iterations.
    The fits run on one BLAS thread: their matrices are small, and spreading each product over
    threads costs more than it gains (docs/RESULTS.md has the measurement).

    Args:
        train_features: (N, D).
        train_labels: (N,).
        val_features: (M, D).
        val_labels: (M,).
        c_grid: the inverse regularisation strengths tried.
        seed: seeds the solver.

    Returns:
        The :class:`LinearProbe` with the best val accuracy: standardiser, classifier, its C
        and that accuracy."""
    scaler = StandardScaler().fit(train_features)
    x_train, x_val = scaler.transform(train_features), scaler.transform(val_features)
    classifier = LogisticRegression(max_iter=1000, warm_start=True, random_state=seed)
    best: LinearProbe | None = None
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        # one label per class (a small budget) makes sklearn wonder whether y is a regression
        warnings.filterwarnings("ignore", message="The number of unique classes is greater")
        for c in sorted(c_grid):
            classifier.set_params(C=c).fit(x_train, train_labels)
            val_top1 = float((classifier.predict(x_val) == val_labels).mean())
            if best is None or val_top1 > best.val_top1:
                best = LinearProbe(scaler, copy.deepcopy(classifier), c, val_top1)
    assert best is not None
    return best


def knn_predict(bank_features: np.ndarray, bank_labels: np.ndarray, query_features: np.ndarray,
                k: int = 20, temperature: float = 0.07, num_classes: int | None = None,
                chunk: int = 1024) -> np.ndarray:
    """Weighted-kNN class predictions (Q,) for (Q, D) queries against an (N, D) bank."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    bank = F.normalize(torch.as_tensor(bank_features, dtype=torch.float32), dim=1)
    labels = torch.as_tensor(bank_labels, dtype=torch.long)
    num_classes = num_classes or int(labels.max()) + 1
    k = min(k, len(bank))
    predictions = []
    for start in range(0, len(query_features), chunk):
        query = F.normalize(torch.as_tensor(query_features[start:start + chunk],
                                            dtype=torch.float32), dim=1)
        similarity, index = (query @ bank.T).topk(k, dim=1)  # (q, k)
        votes = torch.zeros(len(query), num_classes)
        votes.scatter_add_(1, labels[index], (similarity / temperature).exp())
        predictions.append(votes.argmax(1))
    return torch.cat(predictions).numpy()


def choose_k(bank_features: np.ndarray, bank_labels: np.ndarray, val_features: np.ndarray,
             val_labels: np.ndarray, k_grid: Sequence[int] = K_GRID,
             num_classes: int | None = None) -> tuple[int, float]:
    """The k with the best val accuracy, and that accuracy."""
    scores = {k: float((knn_predict(bank_features, bank_labels, val_features, k,
                                    num_classes=num_classes) == val_labels).mean())
              for k in k_grid}
    best = max(scores, key=lambda k: (scores[k], -k))
    return best, scores[best]


def probe_accuracy(train_features: np.ndarray, train_targets: np.ndarray,
                   eval_features: np.ndarray, eval_targets: np.ndarray, C: float = 0.1) -> float:
    """Does a representation know something? One logistic regression (a fixed ``C``, no
    selection) on standardised train features, e.g. to decode a bird's beak colour from its
    features. To report a model's accuracy use :func:`fit_linear_probe` instead.

    Args:
        train_features: (N, D) features to fit on.
        train_targets: (N,) what to decode; at least two distinct values.
        eval_features: (M, D) features to score on.
        eval_targets: (M,) their true values.
        C: inverse regularisation strength.

    Returns:
        The accuracy on the eval features, in [0, 1]."""
    if len(np.unique(train_targets)) < 2:
        raise ValueError("the train targets need at least two distinct values")
    scaler = StandardScaler().fit(train_features)
    classifier = LogisticRegression(C=C, max_iter=1000)
    classifier.fit(scaler.transform(train_features), train_targets)
    return float((classifier.predict(scaler.transform(eval_features)) == eval_targets).mean())
