"""BYOL (Grill et al. 2020) and SimSiam (Chen & He 2021): two views, no negatives.

"BYOL's goal is to learn a representation y_θ which can then be used for downstream tasks.
... From an augmented view v, the online network outputs a representation y_θ, a projection
z_θ and a prediction q_θ(z_θ) ... the target network outputs from v' the target projection
z'_ξ. We then define the following mean squared error between the normalized predictions and
target projections" (section 3.1):

    l(θ, ξ) = ‖q̄_θ(z_θ) − z̄'_ξ‖² = 2 − 2 · cos(q_θ(z_θ), z'_ξ)

symmetrised by feeding v' to the online network and v to the target (the loss is the sum of
the two). Only the online network learns; the target is its exponential moving average,
ξ ← τ ξ + (1 − τ) θ after every step, with τ rising from ``momentum`` to 1 on a cosine over the
run (τ = 1 − (1 − τ_base)(cos(πk/K) + 1)/2).

SimSiam is the same with ``momentum=0``: the target *is* the online network at this step, its
projection taken with a stop-gradient ("the stop-gradient operation plays an essential role
in preventing collapsing", Chen & He 2021). ``stop_gradient=False`` removes it, so that both
branches can agree on a constant: the representation collapses, which the logged
``embedding_std`` (the per-dimension standard deviation of the ℓ2-normalised projections:
about 1/√d when they spread over the sphere, 0 when they collapse) shows.

Example::

    >>> p, z = torch.randn(8, 16), torch.randn(8, 16)
    >>> byol_loss(p, z).shape
    torch.Size([])
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from fgssl.gpu_augment import BatchSimCLRViews
from fgssl.methods.about import Entry, Option, Schedule, schedules
from fgssl.methods.base import Log, Method, cosine_momentum, momentum_update, sgd
from fgssl.models.backbones import build_backbone
from fgssl.models.heads import ProjectionHead


def byol_loss(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """BYOL's regression loss (Grill et al. 2020, eq. 2): 2 − 2·cos(q, z), the squared distance
    between ℓ2-normalised prediction and target, averaged over the rows.

    Computed in float32 (at least) even under mixed precision: a bf16 cosine is too coarse for
    what BYOL learns from, small differences between two views' projections.

    Args:
        predictions: (N, D) the online network's predictions q.
        targets: (N, D) the target projections z of the other views (the caller detaches
            them: the stop-gradient).

    Returns:
        The loss, a scalar in [0, 4].
    """
    if predictions.shape != targets.shape or predictions.ndim != 2:
        raise ValueError(f"need two (N, D) batches of the same shape, got "
                         f"{tuple(predictions.shape)} and {tuple(targets.shape)}")
    dtype = torch.promote_types(predictions.dtype, torch.float32)  # float64 stays float64
    with torch.autocast(predictions.device.type, enabled=False):
        cosine = (F.normalize(predictions.to(dtype), dim=1)
                  * F.normalize(targets.to(dtype), dim=1)).sum(1)
        return (2 - 2 * cosine).mean()


def embedding_std(projections: torch.Tensor) -> torch.Tensor:
    """How spread out projections are (SimSiam, §4.1): the mean over dimensions of the standard
    deviation of the ℓ2-normalised projections.

    Args:
        projections: (N, D).

    Returns:
        A scalar: about 1/√D when the projections spread over the sphere, 0 when they
        collapse to one point."""
    return F.normalize(projections.detach().float(), dim=1).std(0).mean()


class BYOL(Method):
    """Online backbone, projector and predictor; a momentum target of backbone and projector
    (none with ``momentum=0``: SimSiam). Views as SimCLR's (batched), by default its
    fine-grained ones: crops around the salient object, colour jitter 0.25 (docs/EXPERIMENTS.md
    compares them with the standard views).

    The starting momentum defaults to 0.9, not the paper's 0.996: a run of a few thousand
    steps (the ``cpu`` profile's) would leave so slow a target close to its random init for
    most of the run (docs/EXPERIMENTS.md measures it).

    Args:
        backbone_name, image_size, variant, jitter, hue: the backbone and the views, as
            :class:`~fgssl.methods.simclr.SimCLR`'s.
        hidden_dim: the projector's and predictor's hidden width.
        projection_dim: D, the projections' and predictions' width.
        momentum: the target's τ at the start, rising to 1 on a cosine (0: SimSiam).
        stop_gradient: SimSiam's stop-gradient on the target side (False needs ``momentum=0``
            and makes the representation collapse).
        predictor_lr_factor: the predictor's learning rate relative to the encoder's."""

    name = "byol"
    summary = "BYOL: predicting a momentum target's view of the image (Grill et al. 2020)"
    base_lr = 0.3
    # cpu: within SimCLR's time, batches of 64 (the target moves every step: more steps, more
    # learning per epoch; docs/RESULTS.md); gpu: a class period on a T4
    schedule = schedules(cpu=Schedule(epochs=20, batch_size=64), gpu=Schedule(epochs=30))
    options = (Option("momentum", "the target's momentum at the start, rising to 1 (0: SimSiam, "
                                  "the target is the online network)", minimum=0, maximum=1),
               Option("stop_gradient", "SimSiam: stop the gradient through the target (without "
                                       "it, the representation collapses)"))
    entries = (
        Entry("byol", "BYOL: a momentum target, no negatives", opt_in=True, cost=300),
        Entry("simsiam", "SimSiam: BYOL without a momentum target (its stop-gradient kept)",
              options={"momentum": 0.0}, opt_in=True, cost=240),
    )

    def __init__(self, backbone_name: str = "small_cnn", image_size: int = 32,
                 variant: str = "object_crop", jitter: float = 0.25, hue: float | None = None,
                 hidden_dim: int = 512, projection_dim: int = 128, momentum: float = 0.9,
                 stop_gradient: bool = True, predictor_lr_factor: float = 1.0) -> None:
        if not stop_gradient and momentum > 0:
            raise ValueError("stop_gradient=False needs momentum=0: a momentum target gets no "
                             "gradient anyway")
        super().__init__(build_backbone(backbone_name, image_size))
        self.projector = ProjectionHead(self.backbone.feature_dim, hidden_dim, projection_dim)
        self.predictor = ProjectionHead(projection_dim, hidden_dim, projection_dim)
        self.momentum, self.stop_gradient = momentum, stop_gradient
        self.predictor_lr_factor = predictor_lr_factor
        self.target = nn.Sequential(copy.deepcopy(self.backbone), copy.deepcopy(
            self.projector)).requires_grad_(False) if momentum > 0 else None
        self.augment = BatchSimCLRViews(image_size, variant=variant, jitter=jitter, hue=hue)

    def views(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.augment(images)  # two (B, 3, H, W) float batches

    def online_projections(self, images: torch.Tensor) -> torch.Tensor:
        """g(f(images)): (B, 3, H, W) -> (B, projection_dim)."""
        return self.projector(self.backbone(images))

    def training_step(self, inputs: tuple[torch.Tensor, torch.Tensor], labels: torch.Tensor
                      ) -> tuple[torch.Tensor, dict[str, Log]]:
        both = torch.cat(inputs)  # (2B, 3, H, W): view 1 then view 2, one pass
        online = self.online_projections(both)
        predictions = self.predictor(online)
        if self.target is not None:
            with torch.no_grad():
                targets = self.target(both)
        else:  # SimSiam: the online network itself, with or without a stop-gradient
            targets = online.detach() if self.stop_gradient else online
        first, second = predictions.chunk(2)
        target_first, target_second = targets.chunk(2)
        loss = byol_loss(first, target_second) + byol_loss(second, target_first)
        return loss, {"embedding_std": embedding_std(online[:len(first)])}

    def optimizers(self, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
        """SGD over the online network (the target learns by its momentum only), the
        predictor at ``predictor_lr_factor`` times the rate."""
        encoder = [*self.backbone.parameters(), *self.projector.parameters()]
        return [sgd([(encoder, 1.0), (list(self.predictor.parameters()),
                                      self.predictor_lr_factor)], lr, weight_decay)]

    @torch.no_grad()
    def after_step(self, optimizer_index: int) -> None:
        """The target moves towards the online network: ξ ← τ ξ + (1 − τ) θ."""
        if self.target is None:
            return
        momentum_update(self.target, (self.backbone, self.projector),
                        cosine_momentum(self.momentum, self.progress))
