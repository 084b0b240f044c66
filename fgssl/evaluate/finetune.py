"""Fine-tuning: the whole network trained on the labels, the model chosen on val.

A linear probe asks what frozen features already know; fine-tuning asks how good a starting
point they are. The backbone (a copy: the one passed in is never changed) trains with a
learning rate ``backbone_lr_factor`` times the new classifier's, so pretrained features are
adapted rather than erased. What the study we start from got wrong is handled here or by
:func:`fgssl.train.fit`: the optimizer is built after the classifier exists (bug 5), the
schedule is stepped (bug 6), the model goes back to ``train()`` after every evaluation in
``eval()`` (bug 7), and the epoch kept is the one best on *val*, with early stopping after
``patience`` epochs without improvement — the test split is never looked at here (bug 8).

A :class:`~fgssl.methods.about.Recipe` names how an evaluation trains end to end: the head
(a new linear classifier, or PMG's — the study's supervised fine-grained baseline, trained
the same way so that its rows share the protocol), the backbone's relative rate, and whose
schedule it follows. ``FINETUNE`` fine-tunes a pretrained backbone; the study's end-to-end
rows declare their own (the supervised method's ``scratch``, PMG's ``pmg``).

Example::

    >>> tuned = finetune(backbone, budget, val, 24, "cpu", FineTuning(epochs=3))  # doctest: +SKIP
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
from fgssl.methods.about import Recipe, Schedule, schedules
from fgssl.methods.base import Method
from fgssl.methods.registry import method_class, method_classes
from fgssl.train import Hardware, Hyperparameters, ProgressHook, Watch, fit

FINETUNE = Recipe()  # a pretrained backbone under a new linear classifier, at a tenth its rate
FINETUNE_SCHEDULE = schedules(cpu=Schedule(epochs=6, batch_size=64),  # the protocol's, at most
                              gpu=Schedule(epochs=30, batch_size=64),
                              full=Schedule(epochs=30, batch_size=64))
LINEAR_HEAD = "supervised"  # the method whose classifier is the "linear" head


class _Logits(nn.Module):
    """A classifier as a module whose output is its ``logits``."""

    def __init__(self, model: Method) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.logits(images)


def predict(model: Method, data: Dataset, device: torch.device | str = "cpu"
            ) -> tuple[np.ndarray, np.ndarray]:
    """A classifier's predictions on a dataset, frozen in eval mode (through
    :func:`~fgssl.evaluate.features.extract_features`, the logits taken as features).

    Args:
        model: a classifier with a ``logits(images)`` method, (B, 3, H, W) -> (B, C).
        data: items (uint8 (3, H, W) image, label).
        device: where the model runs.

    Returns:
        Predicted classes (N,) and true labels (N,)."""
    logits, labels = extract_features(_Logits(model), data, device=device)
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
        predicted, labels = predict(method, self.val, device)
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

    model: Method
    val_top1: float
    best_epoch: int
    history: list[dict[str, Any]] = field(default_factory=list)


def recipe_epochs(recipe: Recipe, prof: Profile) -> int:
    """The epochs a recipe trains for at most.

    Args:
        recipe: the fine-tuning recipe.
        prof: the profile.

    Returns:
        The fine-tuning protocol's schedule for ``prof`` (:data:`FINETUNE_SCHEDULE`, else the
        profile's epochs), or the schedule of the method the recipe names."""
    if recipe.epochs_of != "finetune":
        return method_class(recipe.epochs_of).epochs_for(prof)
    return FINETUNE_SCHEDULE[prof.name].epochs if prof.name in FINETUNE_SCHEDULE \
        else prof.epochs


def heads() -> dict[str, str]:
    """The heads a recipe can put on a backbone, each with the method that is it: each
    registered method that says it is one (``fine_tuning_head``), the supervised baseline's
    named ``"linear"`` (a new linear classifier, as SSL papers fine-tune)."""
    return {"linear" if cls.name == LINEAR_HEAD else cls.name: cls.name
            for cls in method_classes() if cls.fine_tuning_head}


def _model(backbone: nn.Module, recipe: Recipe, num_classes: int, image_size: int) -> Method:
    """The network a recipe trains: a copy of ``backbone`` under the recipe's head."""
    if recipe.head not in heads():
        raise ValueError(f"unknown head {recipe.head!r}: choose one of {', '.join(heads())}")
    return method_class(heads()[recipe.head])(
        num_classes, image_size=image_size, backbone=copy.deepcopy(backbone).requires_grad_(True),
        backbone_lr_factor=recipe.backbone_lr_factor)


@dataclass(frozen=True)
class FineTuning:
    """How one fine-tuning run trains.

    Args:
        recipe: the head (``"linear"`` or a method's, e.g. ``"pmg"``), the backbone's rate
            relative to the head's, and whose schedule it trains for at most.
        epochs: at most this many epochs (default: the recipe's).
        lr: the rate for a batch of 256 (default: the head's method's).
        patience: stop after this many epochs without a better val top-1.
        seed: seeds the head's init and the batches.
        device: where it trains (default: the best there is)."""

    recipe: Recipe = FINETUNE
    epochs: int | None = None
    lr: float | None = None
    patience: int = 3
    seed: int = 0
    device: str | None = None


def finetune(backbone: nn.Module, train: Dataset, val: Dataset, num_classes: int,
             profile: str | Profile | None = None, tuning: FineTuning = FineTuning(),
             on_step: ProgressHook | None = None) -> FineTuned:
    """Train a copy of ``backbone`` end to end under the head of ``tuning.recipe`` and keep the
    epoch with the best top-1 on ``val``. The head is ``"linear"``, a new linear classifier
    (as SSL papers fine-tune), or a method's, e.g. ``"pmg"``: PMG's stage heads trained
    progressively on jigsaw patches (:class:`~fgssl.methods.pmg.PMG`, Du et al. 2020).
    ``backbone`` itself is never changed.

    Args:
        backbone: (B, 3, H, W) float -> (B, D), as pretrained.
        train: items (uint8 (3, H, W) image, label) to train on.
        val: the same, to choose the epoch.
        num_classes: classes of the labels.
        profile: the profile (name or object; default: the current one).
        tuning: how it trains (:class:`FineTuning`).
        on_step: follows the training, as :class:`~fgssl.train.Watch`'s does.

    Returns:
        The :class:`FineTuned` model in eval mode, with its val top-1, the epoch kept and the
        history."""
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    image_size = int(train[0][0].shape[-1])
    torch.manual_seed(tuning.seed)
    model = _model(backbone, tuning.recipe, num_classes, image_size)
    selector = BestOnVal(val, tuning.patience)
    history = fit(model, train, prof, None,
                  hyper=Hyperparameters(epochs=tuning.epochs or recipe_epochs(tuning.recipe, prof),
                                        lr=tuning.lr, seed=tuning.seed),
                  hardware=Hardware(device=tuning.device),
                  watch=Watch(monitors=[selector], stop=selector.should_stop,
                              progress_bar=False, on_step=on_step))
    model.load_state_dict(selector.best_state)
    return FineTuned(model.eval(), selector.best_top1, selector.best_epoch, history)
