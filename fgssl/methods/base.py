"""The Method interface: what :func:`fgssl.train.fit` needs to train anything.

A method owns a ``backbone`` (what gets evaluated; (B, 3, H, W) -> (B, D)) and whatever
pretext modules it needs. :func:`~fgssl.train.fit` owns the loop; a method only says

- ``views(images)``: the pretext inputs made from a CPU batch of uint8 images (B, 3, H, W);
- ``training_step(inputs, labels)``: the loss (a scalar tensor) and a dict of numbers to log;
- ``optimizers(lr, weight_decay)``: its optimizer(s). A method with several (a GAN's generator
  and discriminator) overrides ``training_steps`` instead of ``training_step``: it yields one
  ``(optimizer index, loss, logs)`` at a time, and ``fit`` backpropagates that loss and steps
  that optimizer before asking for the next, so a later step sees the updated weights;
- ``config()``: the JSON-able arguments that rebuild it (stored in every checkpoint);
- optionally ``pretext_metrics(images)``: how well the pretext task is solved on held-out
  images, which ``fit`` logs on val after every epoch (as ``val_<name>``).

``history`` holds one record per trained epoch (loss, logs, monitors), filled by ``fit``
and restored with a checkpoint; ``progress`` is the fraction of the training run done, set by
``fit`` before every step (for methods whose objective changes during training).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

Inputs = torch.Tensor | tuple[torch.Tensor, ...]
Log = torch.Tensor | float  # a logged number; a tensor (detached) until fit() reads it
Step = tuple[int, torch.Tensor, dict[str, Log]]  # (optimizer index, loss, logs)


class Method(nn.Module):
    """Base class of every pretext task and baseline."""

    name: str = "method"
    base_lr: float = 0.1  # SGD learning rate for a batch of 256 (scaled linearly with batch)
    data_size: int | None = None  # the image size it trains on, when not the profile's
    # constructor arguments that config() does not record: a backbone handed over at run time
    runtime_arguments: tuple[str, ...] = ()

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.history: list[dict[str, Any]] = []
        self.trace: list[dict[str, Any]] = []  # finer than history: a few records per epoch
        self.progress = 0.0

    def views(self, images: torch.Tensor) -> Inputs:
        raise NotImplementedError

    def training_step(self, inputs: Inputs, labels: torch.Tensor
                      ) -> tuple[torch.Tensor, dict[str, Log]]:
        raise NotImplementedError

    def forward(self, inputs: Inputs, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, Log]]:
        """The training step, as ``DistributedDataParallel`` calls it (under torchrun)."""
        return self.training_step(inputs, labels)

    def training_steps(self, inputs: Inputs, labels: torch.Tensor) -> Iterator[Step]:
        """One iteration as ``(optimizer index, loss, logs)`` steps; by default the single
        :meth:`training_step`, for optimizer 0."""
        loss, logs = self.training_step(inputs, labels)
        yield 0, loss, logs

    def config(self) -> dict[str, Any]:
        raise NotImplementedError

    def pretext_metrics(self, images: torch.Tensor) -> dict[str, Any]:
        """Pretext-task scores on held-out (B, 3, H, W) uint8 images; none by default."""
        return {}

    def optimizers(self, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
        """One SGD (momentum 0.9, Nesterov) over every parameter; no decay on norms and biases."""
        return [sgd([(list(self.parameters()), 1.0)], lr, weight_decay)]


def sgd(parts: Sequence[tuple[Sequence[nn.Parameter], float]], lr: float,
        weight_decay: float) -> torch.optim.SGD:
    """SGD (momentum 0.9, Nesterov) over ``parts`` — (parameters, learning-rate scale) pairs,
    e.g. a pretrained backbone at 0.1 and a new head at 1.0 — with weight decay on weights
    only, never on norms and biases (parameters of one dimension)."""
    groups = []
    for parameters, scale in parts:
        groups += [{"params": [p for p in parameters if p.ndim > 1], "lr": lr * scale,
                    "weight_decay": weight_decay},
                   {"params": [p for p in parameters if p.ndim <= 1], "lr": lr * scale,
                    "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)


def per_sample(transform: Any, images: torch.Tensor) -> Inputs:
    """Apply a per-image transform to each image of a (B, 3, H, W) batch and stack the results
    (a transform returning a tuple of views gives a tuple of (B, ...) tensors)."""
    outputs = [transform(image) for image in images]
    if isinstance(outputs[0], tuple):
        return tuple(torch.stack(parts) for parts in zip(*outputs, strict=True))
    return torch.stack(outputs)
