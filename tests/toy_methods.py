"""Small things for tests of the training loop: a method with a momentum (EMA) target, as
BYOL and DINO keep one, and a monitor that interrupts a run."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fgssl.data.cache import CachedImages
from fgssl.methods.base import Method


def toy_data(n: int = 40) -> CachedImages:
    rng = np.random.default_rng(0)
    return CachedImages(rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8), np.arange(n) % 3)


class MomentumLinear(Method):
    """Cross-entropy plus a pull towards a momentum target (updated after every step);
    ``freeze_bias_until`` keeps the bias frozen for that fraction of the run; ``clip`` clips
    the gradient norm; ``plain_sgd`` trains with SGD at rate 1, no momentum. No
    augmentation and no batch statistics: two halves of a batch average to the whole."""

    name = "momentum_linear"

    def __init__(self, momentum: float = 0.9, freeze_bias_until: float = 0.0,
                 clip: float | None = None, plain_sgd: bool = False) -> None:
        torch.manual_seed(0)
        super().__init__(nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 3)))
        self.target = nn.Linear(3 * 4 * 4, 3)
        self.target.load_state_dict(self.backbone[1].state_dict())
        self.target.requires_grad_(False)
        self.momentum, self.freeze_bias_until = momentum, freeze_bias_until
        self.clip_gradients, self.plain_sgd = clip, plain_sgd
        self.stepped: list[int] = []
        self.progress_seen: list[float] = []
        self.bias_after_epoch: list[torch.Tensor] = []

    def views(self, images: torch.Tensor) -> torch.Tensor:
        return images.float() / 255

    def training_step(self, inputs: torch.Tensor, labels: torch.Tensor):
        self.progress_seen.append(self.progress)
        logits = self.backbone(inputs)
        with torch.no_grad():
            target = self.target(inputs.flatten(1))
        return F.cross_entropy(logits, labels) + ((logits - target) ** 2).mean(), {}

    def optimizers(self, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
        if self.plain_sgd:
            return [torch.optim.SGD(self.backbone.parameters(), lr=1.0)]
        return super().optimizers(lr, weight_decay)

    def after_step(self, optimizer_index: int) -> None:
        self.stepped.append(optimizer_index)
        with torch.no_grad():
            for mine, online in zip(self.target.parameters(), self.backbone[1].parameters(),
                                    strict=True):
                mine.mul_(self.momentum).add_(online, alpha=1 - self.momentum)

    def frozen_parameters(self) -> list[nn.Parameter]:
        return [self.backbone[1].bias] if self.progress < self.freeze_bias_until else []

    def watch_bias(self, method: Method, device: torch.device) -> dict:
        """A monitor: keeps the bias as it is after each epoch."""
        self.bias_after_epoch.append(self.backbone[1].bias.detach().clone())
        return {}


class Interrupt:
    """A monitor that interrupts training (like Ctrl-C) when epoch ``at`` has been trained
    (``at=0``: never)."""

    def __init__(self, at: int) -> None:
        self.at, self.calls = at, 0

    def __call__(self, method: Method, device: torch.device) -> dict:
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return {}
