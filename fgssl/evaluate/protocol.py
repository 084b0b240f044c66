"""The evaluation protocol: frozen features, a label budget, selection on val, test once.

:func:`evaluate_jobs` is the one place that reads the test split. For one backbone and any
number of jobs — (protocol, label fraction, seed) — it first makes every choice on val: the
linear probe's C and kNN's k on features of the frozen backbone (train and val features are
extracted once and shared by the jobs), or a copy of the backbone fine-tuned on the label
budget with its epoch chosen on val. Only then does it read test, once: its frozen features
for every probe, and each fine-tuned model's predictions. :func:`evaluate_backbone` is the
single-job form the command line uses.

Example::

    >>> result = evaluate_backbone(backbone, "synthbirds", "cpu", "linear", labels=0.05)
    ...                                                    # doctest: +SKIP
    >>> result["top1"], result["n_train"]
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from fgssl.config import Profile
from fgssl.config import profile as get_profile
from fgssl.data import catalog
from fgssl.data.splits import check_label_fraction, label_subset, repeated_budget
from fgssl.evaluate.features import FrozenFeatures, at_input_size, extract_features
from fgssl.evaluate.finetune import FINETUNE, FineTuning, finetune, predict
from fgssl.evaluate.metrics import classification_metrics, majority_floor, sibling_accuracy
from fgssl.evaluate.probe import choose_k, fit_linear_probe, knn_predict
from fgssl.methods.about import Recipe
from fgssl.train import ProgressHook
from fgssl.utils import choose_device

PROTOCOLS = ("linear", "knn", "finetune")


class Job(NamedTuple):
    """One evaluation of a backbone: a protocol, a fraction of train's labels, a seed (which
    picks the label subset and initialises the probe or the classifier)."""

    protocol: str
    labels: float = 1.0
    seed: int = 0


class _Chosen(NamedTuple):
    """A job's predictor, chosen on val: test images (fine-tuned) or test features (frozen)
    in, classes out."""

    job: Job
    budget: np.ndarray  # indices of the labelled train images used
    choice: dict[str, Any]  # C, k or the epoch kept
    val_top1: float
    predict: Callable[..., Any]
    scores: Callable[[np.ndarray], np.ndarray] | None = None  # a linear probe's class scores


def evaluate_backbone(backbone: nn.Module, data: str, profile: str | Profile | None = None,
                      protocol: str = "linear", labels: float = 1.0, seed: int = 0,
                      root: str | None = None, device: str | None = None) -> dict[str, Any]:
    """A backbone's accuracy on a dataset's test split under one protocol: frozen under a
    linear probe or kNN, or fine-tuned end to end (a copy: ``backbone`` is never changed),
    trained on a fraction of the train split, every choice (C, k, epochs) made on val before
    test is read.

    Args:
        backbone: (B, 3, H, W) float -> (B, D).
        data: a dataset's name, e.g. ``"synthbirds"`` or ``"folder:..."``.
        profile: the profile (name or object; default: the current one).
        protocol: ``"linear"``, ``"knn"`` or ``"finetune"``.
        labels: the fraction of the train split's labels used, in (0, 1].
        seed: seeds the label subset and the training.
        root: where the dataset lives (default: the kit's data folder).
        device: where it runs (default: the best there is).

    Returns:
        ``top1``, ``mean_per_class_acc``, ``macro_f1``, ``val_top1``, the choice made on val,
        the label-subset floor and sizes; for a linear probe on a dataset of sibling species,
        ``sibling_accuracy`` and each pair's."""
    return evaluate_jobs(backbone, data, profile, [Job(protocol, labels, seed)], root,
                         device)[0]


def check_probe_splits(found: dict[str, Any], where: str) -> None:
    """An error that says what to add where a labelled split of a dataset (``found``, as
    :func:`fgssl.data.catalog.info` describes it; ``where``: its name or folder) is empty: a
    probe trains on train, chooses its settings on val and is scored on test. A dataset not
    there yet passes: reading it says where to get it."""
    if not found["prepared"]:
        return
    sizes = found["splits"]
    if not sizes["train"]:
        raise ValueError(f"{where} has no labelled images, and a probe learns from labels: "
                         f"add class folders ({where}/<class>/<image>)")
    empty = [split for split in ("val", "test") if not sizes[split]]
    if empty:
        raise ValueError(f"{where} has too few labelled images ({sizes['train']} to train on) "
                         f"for {' or '.join(empty)} images: a probe chooses its settings on val "
                         "and is scored on test; add images (10 or more per class)")


def evaluate_jobs(backbone: nn.Module, data: str, profile: str | Profile | None,
                  jobs: Sequence[Job], root: str | None = None, device: str | None = None,
                  recipe: Recipe = FINETUNE, on_step: ProgressHook | None = None,
                  features: FrozenFeatures | None = None) -> list[dict[str, Any]]:
    """One result per job (as :func:`evaluate_backbone`'s), every choice made on val before
    test is read. ``recipe`` says how the ``finetune`` jobs train end to end: the head, the
    backbone's rate relative to it (1.0 with a random init: training from scratch) and whose
    schedule it trains for at most; ``on_step`` follows each of those trainings (as
    :class:`~fgssl.train.Watch`'s). Images are loaded at the profile's size, or at the backbone's
    ``input_size`` where it declares one (:func:`~fgssl.evaluate.features.at_input_size`).
    ``features``, when given, keeps the frozen backbone's features by split (``train`` and
    ``val`` first, ``test`` once the choices are made) for whatever looks at the same
    backbone next (the demo's figures), and reuses any it already holds."""
    for job in jobs:
        if job.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {job.protocol!r}: choose one of "
                             f"{', '.join(PROTOCOLS)}")
        check_label_fraction(job.labels)
        if not (isinstance(job.seed, int) and job.seed >= 0):
            raise ValueError(f"seed must be a whole number, 0 or more, e.g. 0; got {job.seed}")
    prof = at_input_size(backbone, profile if isinstance(profile, Profile)
                         else get_profile(profile))
    check_probe_splits(catalog.info(data, root, prof.name), root or data)
    device_ = choose_device(device)
    backbone = backbone.to(device_)
    train, val = (catalog.dataset(data, split, root, size=prof.image_size, profile=prof)
                  for split in ("train", "val"))
    train_labels, val_labels = np.asarray(train.labels), np.asarray(val.labels)
    num_classes = int(max(train_labels.max(), val_labels.max())) + 1
    features = {} if features is None else features
    if any(job.protocol != "finetune" for job in jobs):  # frozen: extracted once, shared
        for split, dataset in (("train", train), ("val", val)):
            if split not in features:
                features[split] = extract_features(backbone, dataset, device=device_)

    chosen = []
    for job in jobs:
        budget = label_subset(train_labels, fraction=job.labels, seed=job.seed)
        if job.protocol == "finetune":
            tuned = finetune(backbone, repeated_budget(train, budget), val, num_classes, prof,
                             FineTuning(recipe, seed=job.seed, device=str(device_)), on_step)
            choice, val_top1 = {"epochs": tuned.best_epoch}, tuned.val_top1
            predictor: Callable = functools.partial(predict, tuned.model, device=device_)
        else:
            x, y = features["train"][0][budget], train_labels[budget]
            if job.protocol == "linear":
                probe = fit_linear_probe(x, y, *features["val"], seed=job.seed)
                choice, val_top1, predictor = {"C": probe.C}, probe.val_top1, probe.predict
                chosen.append(_Chosen(job, budget, choice, val_top1, predictor, probe.scores))
                continue
            else:
                k, val_top1 = choose_k(x, y, *features["val"], num_classes=num_classes)
                choice = {"k": k}
                predictor = functools.partial(knn_predict, x, y, k=k, num_classes=num_classes)
        chosen.append(_Chosen(job, budget, choice, val_top1, predictor))
    return _score_on_test(backbone, data, prof, root, device_, chosen, train_labels,
                          num_classes, features)


def _score_on_test(backbone: nn.Module, data: str, prof: Profile, root: str | None,
                   device: torch.device, chosen: list[_Chosen], train_labels: np.ndarray,
                   num_classes: int, features: FrozenFeatures) -> list[dict[str, Any]]:
    """The only reader of test: frozen test features once (for every probe, kept in
    ``features``), and each fine-tuned model's predictions; for a linear probe on a dataset of
    sibling classes, its sibling accuracy (:func:`~fgssl.evaluate.metrics.sibling_accuracy`)."""
    test = catalog.dataset(data, "test", root, size=prof.image_size, profile=prof)
    siblings = catalog.spec(data).siblings
    results = []
    for job, budget, choice, val_top1, predictor, scores in chosen:
        if job.protocol == "finetune":
            predicted, test_y = predictor(test)
        else:
            if "test" not in features:
                features["test"] = extract_features(backbone, test, device=device)
            test_x, test_y = features["test"]
            predicted = predictor(test_x)
        results.append({
            "protocol": job.protocol, "labels": job.labels, "seed": job.seed, **choice,
            "val_top1": val_top1, **classification_metrics(test_y, predicted, num_classes),
            "majority_floor": majority_floor(train_labels[budget], test_y),
            "n_train": len(budget), "n_test": len(test_y)})
        if scores is not None and siblings:
            found = sibling_accuracy(scores(features["test"][0]), test_y,
                                     [(a, b) for a, b, _ in siblings])
            parts = {(a, b): part for a, b, part in siblings}
            results[-1]["sibling_accuracy"] = found["mean"]
            results[-1]["sibling_pairs"] = [{**pair, "part": parts[tuple(pair["pair"])]}
                                            for pair in found["pairs"]]
    return results
