"""Frozen feature extraction: the backbone is evaluated, never changed.

Linear probes and kNN judge a representation only if the representation stays fixed. The study
we start from "froze" layers in ways that froze nothing (``module.requires_grad = True`` sets an
attribute) or froze too much (a name mismatch). Here :func:`frozen` puts the backbone in eval
mode (BatchNorm uses, and does not update, its running statistics), turns gradients off, and
*asserts* both before any feature is computed; it restores the previous state afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from fgssl.config import Profile, at_size
from fgssl.transforms import normalise

FrozenFeatures = dict[str, tuple[np.ndarray, np.ndarray]]
"""A frozen backbone's features by split name: ``(features (N, D), labels (N,))``."""


def at_input_size(backbone: nn.Module, prof: Profile) -> Profile:
    """The profile an evaluation of ``backbone`` loads its images with: the backbone's
    ``input_size`` where it declares one (SRGAN's discriminator: the high-resolution size it
    judged in training, 64 px in the ``cpu`` profile), else the profile's own image size.

    Args:
        backbone: the network to evaluate.
        prof: the profile the evaluation runs in.

    Returns:
        ``prof``, with ``image_size`` replaced where the backbone reads another size."""
    return at_size(prof, getattr(backbone, "input_size", None))


def assert_frozen(backbone: nn.Module) -> None:
    """Check that a backbone is frozen: every module in eval mode and no parameter requiring a
    gradient; an ``AssertionError`` naming the first offenders otherwise.

    Args:
        backbone: the network to check."""
    training = [name or "(root)" for name, m in backbone.named_modules() if m.training]
    if training:
        raise AssertionError(
            f"backbone is not in eval mode (BatchNorm would update): {training[:3]}"
        )
    trainable = [name for name, p in backbone.named_parameters() if p.requires_grad]
    if trainable:
        raise AssertionError(f"backbone parameters still require gradients: {trainable[:3]}")


def freeze(backbone: nn.Module) -> nn.Module:
    """Freeze ``backbone`` in place for a linear probe, and return it: every module in eval
    mode (BatchNorm uses its stored statistics and stops updating them; dropout is off) and
    no parameter requiring a gradient. (``module.requires_grad = False`` would only set an
    attribute: the study's bug 4.)"""
    backbone.eval()
    backbone.requires_grad_(False)
    return backbone


@contextlib.contextmanager
def frozen(backbone: nn.Module) -> Iterator[nn.Module]:
    """A context in which ``backbone`` is in eval mode with no parameter taking gradients; on
    leaving it, every module's mode and every parameter's ``requires_grad`` are restored as
    they were.

    Args:
        backbone: the network to freeze for the block.

    Yields:
        ``backbone`` itself."""
    modes = [(module, module.training) for module in backbone.modules()]
    requires_grad = [(p, p.requires_grad) for p in backbone.parameters()]
    freeze(backbone)
    try:
        assert_frozen(backbone)
        yield backbone
    finally:
        for module, mode in modes:
            module.training = mode
        for parameter, flag in requires_grad:
            parameter.requires_grad_(flag)


def extract_features(backbone: nn.Module, data: Dataset, batch_size: int = 256,
                     device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """The frozen backbone's features of every image of a dataset, batch by batch, standardised
    as in training, in eval mode without gradients.

    Args:
        backbone: (B, 3, H, W) float -> (B, D).
        data: items (uint8 (3, H, W) image, label).
        batch_size: images per forward pass.
        device: where the backbone runs.

    Returns:
        Features (N, D) float32 and labels (N,), in the dataset's order."""
    to_input = normalise()
    loader = DataLoader(data, batch_size=batch_size, shuffle=False)
    features, labels = [], []
    with frozen(backbone), torch.no_grad():
        for images, targets in loader:
            inputs = to_input(images).to(device, non_blocking=True)
            features.append(backbone(inputs.contiguous(memory_format=torch.channels_last)).float()
                            .cpu())
            labels.append(targets)
    return torch.cat(features).numpy(), torch.cat(labels).numpy()


def view_features(backbone: nn.Module, images: torch.Tensor,
                  views: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Frozen features of two augmented views of each image (what alignment and uniformity
    measure, Wang & Isola 2020).

    Args:
        backbone: (B, 3, H, W) float -> (B, D).
        images: (B, 3, H, W) uint8.
        views: makes the two standardised views of a batch, e.g. a ``BatchSimCLRViews``.

    Returns:
        Two (B, D) tensors; row i of each comes from image i."""
    view_1, view_2 = views(images)
    with frozen(backbone), torch.no_grad():
        return backbone(view_1), backbone(view_2)
