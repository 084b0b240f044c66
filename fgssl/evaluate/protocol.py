"""The evaluation protocol: frozen features, a label budget, selection on val, test once.

:func:`evaluate_backbone` is the one place that reads the test split: features of the train
label budget, val and test are extracted from the frozen backbone; the probe (its C, or kNN's
k) is chosen on val — or a copy of the backbone is fine-tuned on the budget, its epoch chosen
on val; then test is scored once and reported with the majority-class floor.

Example::

    >>> result = evaluate_backbone(backbone, "synthbirds", "cpu", "linear", labels=0.05)
    ...                                                    # doctest: +SKIP
    >>> result["top1"], result["n_train"]
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from torch import nn
from torch.utils.data import Subset

from fgssl.config import Profile
from fgssl.config import profile as get_profile
from fgssl.data import catalog
from fgssl.data.splits import label_subset, repeated_budget
from fgssl.evaluate.features import extract_features
from fgssl.evaluate.finetune import finetune
from fgssl.evaluate.metrics import classification_metrics, majority_floor
from fgssl.evaluate.probe import choose_k, fit_linear_probe, knn_predict
from fgssl.utils import choose_device

PROTOCOLS = ("linear", "knn", "finetune")


def evaluate_backbone(backbone: nn.Module, data: str, profile: str | Profile | None = None,
                      protocol: str = "linear", labels: float = 1.0, seed: int = 0,
                      root: str | None = None, device: str | None = None) -> dict[str, Any]:
    """Top-1, mean per-class accuracy and macro-F1 on test of a backbone: frozen under a
    linear probe or kNN, or fine-tuned (a copy; ``backbone`` is never changed), trained on
    ``labels`` (a fraction) of the train split and selected on val."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}: choose one of {', '.join(PROTOCOLS)}")
    if not 0 < labels <= 1:
        raise ValueError(f"--labels is a fraction of the train split in (0, 1], got {labels}")
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    device_ = choose_device(device)
    backbone = backbone.to(device_)
    splits = {s: catalog.dataset(data, s, root, size=prof.image_size, profile=prof)
              for s in ("train", "val", "test")}
    budget = label_subset(np.asarray(splits["train"].labels), fraction=labels, seed=seed)
    train_y = np.asarray(splits["train"].labels)[budget]
    num_classes = int(max(train_y.max(), np.asarray(splits["val"].labels).max())) + 1
    if protocol == "finetune":
        tuned = finetune(backbone, repeated_budget(splits["train"], budget), splits["val"],
                         num_classes, prof, seed=seed, device=str(device_))
        chosen, val_top1 = {"epochs": tuned.best_epoch}, tuned.val_top1
        predicted, test_y = tuned.model.predict(splits["test"], device_)  # test, read once
    else:
        train_x, _ = extract_features(backbone, Subset(splits["train"], budget.tolist()),
                                      device=device_)
        val_x, val_y = extract_features(backbone, splits["val"], device=device_)
        if protocol == "linear":
            probe = fit_linear_probe(train_x, train_y, val_x, val_y, seed=seed)
            chosen, val_top1, predict = {"C": probe.C}, probe.val_top1, probe.predict
        else:
            k, val_top1 = choose_k(train_x, train_y, val_x, val_y, num_classes=num_classes)
            chosen = {"k": k}
            predict = functools.partial(knn_predict, train_x, train_y, k=k,
                                        num_classes=num_classes)
        test_x, test_y = extract_features(backbone, splits["test"], device=device_)  # read once
        predicted = predict(test_x)
    return {
        "protocol": protocol, "labels": labels, "seed": seed, **chosen, "val_top1": val_top1,
        **classification_metrics(test_y, predicted, num_classes),
        "majority_floor": majority_floor(train_y, test_y),
        "n_train": len(train_y), "n_test": len(test_y),
    }
