"""Fine-tuning: the whole network trained on the labels, the model chosen on val.

A linear probe asks what frozen features already know; fine-tuning asks how good a starting
point they are. The backbone (a copy: the one passed in is never changed) trains with a
learning rate ``backbone_lr_factor`` times the new classifier's, so pretrained features are
adapted rather than erased. What the study we start from got wrong is handled here or by
:func:`fgssl.train.fit`: the optimizer is built after the classifier exists (bug 5), the
schedule is stepped (bug 6), the model goes back to ``train()`` after every evaluation in
``eval()`` (bug 7), and the epoch kept is the one best on *val*, with early stopping after
``patience`` epochs without improvement — the test split is never looked at here (bug 8).

The head is a new linear classifier, or PMG's (``head="pmg"``: the study's supervised
fine-grained baseline, trained the same way so that its rows share the protocol). A
:class:`Recipe` names how an evaluation trains end to end: fine-tuning a pretrained backbone
(``FINETUNE``), training a random init from scratch on the supervised schedule
(``FROM_SCRATCH``), PMG from scratch or from pretrained weights.

Example::

    >>> tuned = finetune(backbone, budget, val, num_classes=24, profile="cpu")  # doctest: +SKIP
    >>> tuned.val_top1, tuned.best_epoch
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from fgssl.config import Profile
from fgssl.config import profile as get_profile
from fgssl.evaluate.features import extract_features
from fgssl.methods.base import Method, sgd
from fgssl.methods.pmg import PMG
from fgssl.methods.supervised import Supervised
from fgssl.train import ProgressHook, fit


class FineTune(Supervised):
    """The supervised recipe on a copy of a given backbone, with a smaller backbone rate."""

    name = "finetune"

    def __init__(self, backbone: nn.Module, num_classes: int, image_size: int = 32,
                 backbone_lr_factor: float = 0.1) -> None:
        if not 0 <= backbone_lr_factor <= 1:
            raise ValueError(f"backbone_lr_factor must be in [0, 1], got {backbone_lr_factor}")
        super().__init__(num_classes, image_size=image_size, backbone=copy.deepcopy(backbone))
        self.backbone.requires_grad_(True)
        self.backbone_lr_factor = backbone_lr_factor

    def optimizers(self, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
        """SGD with the backbone at ``backbone_lr_factor`` x ``lr``; no decay on norms, biases."""
        return [sgd([(list(self.backbone.parameters()), self.backbone_lr_factor),
                     (list(self.classifier.parameters()), 1.0)], lr, weight_decay)]

    def predict(self, data: Dataset, device: torch.device | str = "cpu"
                ) -> tuple[np.ndarray, np.ndarray]:
        """Predicted classes and true labels of a dataset of uint8 images, frozen in eval mode
        (through :func:`~fgssl.evaluate.features.extract_features`, the logits as features)."""
        logits, labels = extract_features(nn.Sequential(self.backbone, self.classifier), data,
                                          device=device)
        return logits.argmax(1), labels


class BestOnVal:
    """A :func:`fit` monitor: ``val_top1`` after every epoch; keeps a copy of the best
    weights, and :meth:`should_stop` once ``patience`` epochs have passed without a better
    one."""

    def __init__(self, val: Dataset, patience: int = 3) -> None:
        if patience < 1:
            raise ValueError(f"patience must be at least 1 epoch, got {patience}")
        self.val, self.patience = val, patience
        self.best_top1, self.best_epoch, self.epochs = -1.0, 0, 0
        self.best_state: dict[str, torch.Tensor] = {}

    def __call__(self, method: Method, device: torch.device) -> dict[str, Any]:
        assert isinstance(method, FineTune | PMG), "a model with a predict(data, device)"
        predicted, labels = method.predict(self.val, device)
        top1 = float((predicted == labels).mean())
        self.epochs += 1
        if top1 > self.best_top1:
            self.best_top1, self.best_epoch = top1, self.epochs
            self.best_state = copy.deepcopy(method.state_dict())
        return {"val_top1": top1}

    def should_stop(self, history: list[dict[str, Any]]) -> bool:
        return self.epochs - self.best_epoch >= self.patience


@dataclass
class FineTuned:
    """The model with the weights of its best val epoch, in eval mode, and how it got there."""

    model: FineTune | PMG
    val_top1: float
    best_epoch: int
    history: list[dict[str, Any]] = field(default_factory=list)


HEADS = ("linear", "pmg")


class Recipe(NamedTuple):
    """How an evaluation trains a backbone end to end (:func:`finetune`): the head around it,
    the backbone's learning rate relative to the head's (1.0 for a random init, i.e. training
    from scratch) and the profile entry whose epochs it trains for at most."""

    head: str = "linear"
    backbone_lr_factor: float = 0.1
    epochs_of: str = "finetune"


FINETUNE = Recipe()  # a pretrained backbone under a new linear classifier
FROM_SCRATCH = Recipe("linear", 1.0, "supervised")  # a random init: the supervised schedule
PMG_FROM_SCRATCH = Recipe("pmg", 1.0, "pmg")
PMG_PRETRAINED = Recipe("pmg", 0.1, "pmg")  # PMG's paper: pretrained layers at a tenth


def finetune(backbone: nn.Module, train: Dataset, val: Dataset, num_classes: int,
             profile: str | Profile | None = None, *, head: str = "linear",
             epochs: int | None = None, lr: float | None = None, backbone_lr_factor: float = 0.1,
             patience: int = 3, seed: int = 0, device: str | None = None,
             progress: bool | ProgressHook = False) -> FineTuned:
    """Train a copy of ``backbone`` end to end on ``train`` (uint8 images and labels) under a
    new ``head`` — ``"linear"``, a linear classifier (as SSL papers fine-tune), or ``"pmg"``,
    PMG's stage heads trained progressively on jigsaw patches (:class:`~fgssl.methods.pmg.PMG`,
    Du et al. 2020) — for at most ``epochs`` (default: the profile's for "finetune"), keeping
    the epoch with the best val top-1. ``progress`` as :func:`~fgssl.train.fit`'s."""
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}: choose one of {', '.join(HEADS)}")
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    image_size = int(train[0][0].shape[-1])
    torch.manual_seed(seed)
    model: FineTune | PMG = FineTune(backbone, num_classes, image_size, backbone_lr_factor) \
        if head == "linear" else PMG(num_classes, image_size=image_size,
                                     backbone=copy.deepcopy(backbone).requires_grad_(True),
                                     backbone_lr_factor=backbone_lr_factor)
    selector = BestOnVal(val, patience)
    history = fit(model, train, prof, None, epochs=epochs or prof.epochs_for("finetune"),
                  lr=lr, seed=seed, monitors=[selector], stop=selector.should_stop,
                  device=device, progress=progress)
    model.load_state_dict(selector.best_state)
    return FineTuned(model.eval(), selector.best_top1, selector.best_epoch, history)
