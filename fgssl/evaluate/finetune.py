"""Fine-tuning: the whole network trained on the labels, the model chosen on val.

A linear probe asks what frozen features already know; fine-tuning asks how good a starting
point they are. The backbone (a copy: the one passed in is never changed) trains with a
learning rate ``backbone_lr_factor`` times the new classifier's, so pretrained features are
adapted rather than erased. What the study we start from got wrong is handled here or by
:func:`fgssl.train.fit`: the optimizer is built after the classifier exists (bug 5), the
schedule is stepped (bug 6), the model goes back to ``train()`` after every evaluation in
``eval()`` (bug 7), and the epoch kept is the one best on *val*, with early stopping after
``patience`` epochs without improvement — the test split is never looked at here (bug 8).

Example::

    >>> tuned = finetune(backbone, budget, val, num_classes=24, profile="cpu")  # doctest: +SKIP
    >>> tuned.val_top1, tuned.best_epoch
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from fgssl.config import Profile
from fgssl.config import profile as get_profile
from fgssl.evaluate.features import extract_features
from fgssl.methods.base import Method
from fgssl.methods.supervised import Supervised
from fgssl.train import fit


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
        groups = []
        for module, scale in ((self.backbone, self.backbone_lr_factor), (self.classifier, 1.0)):
            parameters = list(module.parameters())
            groups += [
                {"params": [p for p in parameters if p.ndim > 1], "lr": lr * scale,
                 "weight_decay": weight_decay},
                {"params": [p for p in parameters if p.ndim <= 1], "lr": lr * scale,
                 "weight_decay": 0.0}]
        return [torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)]

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
        assert isinstance(method, FineTune)
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

    model: FineTune
    val_top1: float
    best_epoch: int
    history: list[dict[str, Any]] = field(default_factory=list)


def finetune(backbone: nn.Module, train: Dataset, val: Dataset, num_classes: int,
             profile: str | Profile | None = None, *, epochs: int | None = None,
             lr: float | None = None, backbone_lr_factor: float = 0.1, patience: int = 3,
             seed: int = 0, device: str | None = None, progress: bool = False) -> FineTuned:
    """Fine-tune a copy of ``backbone`` with a new classifier on ``train`` (uint8 images and
    labels) for at most ``epochs`` (default: the profile's for "finetune"), keeping the epoch
    with the best val top-1."""
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    image_size = int(train[0][0].shape[-1])
    torch.manual_seed(seed)
    model = FineTune(backbone, num_classes, image_size, backbone_lr_factor)
    selector = BestOnVal(val, patience)
    history = fit(model, train, prof, None, epochs=epochs or prof.epochs_for("finetune"),
                  lr=lr, seed=seed, monitors=[selector], stop=selector.should_stop,
                  device=device, progress=progress)
    model.load_state_dict(selector.best_state)
    return FineTuned(model.eval(), selector.best_top1, selector.best_epoch, history)
