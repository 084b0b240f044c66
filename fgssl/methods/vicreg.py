"""VICReg (Bardes, Ponce & LeCun 2022): variance, invariance and covariance regularisation.

Two views of each image go through the backbone and an *expander* (an MLP to a wide
embedding). The loss holds the two embeddings Z, Z' (N, d) together and keeps them from
collapsing, with no negatives and no momentum target (eq. 6):

    l(Z, Z') = λ s(Z, Z') + μ [v(Z) + v(Z')] + ν [c(Z) + c(Z')]

- invariance s: the mean squared difference of paired embeddings, per coordinate (as the
  authors' code computes it, which their coefficients were set with; eq. 5 sums over the d
  coordinates instead);
- variance v(Z) = (1/d) Σ_j max(0, γ − √(Var(z^j) + ε)), γ = 1, ε = 1e-4: each coordinate's
  standard deviation over the batch is pushed up to γ, so the batch cannot shrink to a point;
- covariance c(Z) = (1/d) Σ_{i≠j} C(Z)_ij², C(Z) = Σ_n (z_n − z̄)(z_n − z̄)ᵀ / (N − 1): the
  coordinates are decorrelated, so they cannot all say the same thing.

λ = μ = 25 and ν = 1 by default (the paper's). The terms are computed in float32 even under
mixed precision: a bf16 covariance of a wide embedding loses what the loss is about. Under
torchrun (``gather=True``) the embeddings of every process are gathered with gradients first,
so that the variance and covariance are the whole batch's, as the paper computes them.

Example::

    >>> z1, z2 = torch.randn(16, 32), torch.randn(16, 32)
    >>> loss, terms = vicreg_loss(z1, z2)
    >>> sorted(terms)
    ['covariance', 'invariance', 'variance']
"""

from __future__ import annotations

from types import MappingProxyType

import torch
import torch.nn.functional as F

from fgssl import distributed
from fgssl.gpu_augment import BatchSimCLRViews
from fgssl.methods.about import Entry, Option, Schedule, schedules
from fgssl.methods.base import Log, Method
from fgssl.models.backbones import build_backbone
from fgssl.models.heads import ProjectionHead


def regularisers(z: torch.Tensor, gamma: float = 1.0, epsilon: float = 1e-4
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """The variance term v(Z) and the covariance term c(Z) of one (N, d) embedding (Bardes et
    al. 2022): v is the mean over the d coordinates of max(0, γ − √(Var + ε)),
    the hinge that keeps each coordinate's standard deviation up to γ (no collapse); c is the
    sum of the squared off-diagonal entries of the (d, d) covariance matrix, divided by d
    (no two coordinates say the same thing)."""
    n, d = z.shape
    variance = F.relu(gamma - torch.sqrt(z.var(dim=0) + epsilon)).mean()
    centred = z - z.mean(dim=0)
    covariance = centred.T @ centred / (n - 1)  # (d, d)
    off_diagonal = covariance - torch.diag(torch.diagonal(covariance))
    return variance, off_diagonal.pow(2).sum() / d


def vicreg_loss(z1: torch.Tensor, z2: torch.Tensor, invariance: float = 25.0,
                variance: float = 25.0, covariance: float = 1.0, gather: bool = False
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """VICReg's loss (Bardes et al. 2022, eq. 6): λ s(Z, Z') + μ [v(Z) + v(Z')] + ν [c(Z) +
    c(Z')], with s the mean squared distance between the two views' embeddings and v, c the
    variance and covariance terms of :func:`regularisers`; computed in float32 (at least).

    Args:
        z1: (N, d) embeddings of the first views, N ≥ 2.
        z2: (N, d) embeddings of the second views; row i of each is the same image.
        invariance: λ. variance: μ. covariance: ν (the paper's 25, 25, 1).
        gather: under torchrun, the terms over every process's rows.

    Returns:
        The loss (a scalar) and its three terms, unweighted: ``invariance``, ``variance``,
        ``covariance``.
    """
    if z1.shape != z2.shape or z1.ndim != 2 or len(z1) < 2:
        raise ValueError(f"need two (N, d) batches of the same shape with N >= 2, got "
                         f"{tuple(z1.shape)} and {tuple(z2.shape)}")
    dtype = torch.promote_types(z1.dtype, torch.float32)  # float64 stays float64
    with torch.autocast(z1.device.type, enabled=False):
        z1, z2 = z1.to(dtype), z2.to(dtype)
        if gather and distributed.initialised():
            z1, z2 = distributed.gather_with_grad(z1)[0], distributed.gather_with_grad(z2)[0]
        (variance_1, covariance_1), (variance_2, covariance_2) = regularisers(z1), regularisers(z2)
        terms = {"invariance": F.mse_loss(z1, z2), "variance": variance_1 + variance_2,
                 "covariance": covariance_1 + covariance_2}
        loss = invariance * terms["invariance"] + variance * terms["variance"] \
            + covariance * terms["covariance"]
    return loss, terms


class VICReg(Method):
    """Backbone and expander; the VICReg loss (Bardes et al. 2022) on the two views'
    embeddings. Views as SimCLR's (batched), by default its fine-grained ones: crops around
    the salient object, colour jitter 0.25 (docs/EXPERIMENTS.md measures them against the
    standard views).

    Args:
        backbone_name, image_size, variant, jitter, hue: the backbone and the views, as
            :class:`~fgssl.methods.simclr.SimCLR`'s.
        expander_dim: the expander's width (three layers, the embeddings this wide).
        invariance_weight: λ, the invariance term's weight.
        variance_weight: μ, the variance term's weight.
        covariance_weight: ν, the covariance term's weight.
        gather: under torchrun, the variance and covariance of every process's batch."""

    name = "vicreg"
    summary = "VICReg: variance, invariance and covariance of two views (Bardes et al. 2022)"
    base_lr = 0.05  # SGD, for a batch of 256; higher rates diverge (docs/RESULTS.md)
    # cpu: within 1.10x SimCLR's time (its expander makes a step dearer; docs/RESULTS.md);
    # gpu: a class period on a T4
    schedule = schedules(cpu=Schedule(epochs=28), gpu=Schedule(epochs=30))
    distributed_settings = MappingProxyType({"gather": True})  # the whole batch's statistics
    options = (Option("invariance_weight", "λ, the invariance term's weight (default 25)",
                      minimum=0),
               Option("variance_weight", "μ, the variance term's weight (default 25)",
                      minimum=0),
               Option("covariance_weight", "ν, the covariance term's weight (default 1)",
                      minimum=0))
    entries = (Entry("vicreg", "VICReg: variance, invariance, covariance; no negatives",
                     opt_in=True, cost=310),)

    def __init__(self, backbone_name: str = "small_cnn", image_size: int = 32,
                 variant: str = "object_crop", jitter: float = 0.25, hue: float | None = None,
                 expander_dim: int = 512, invariance_weight: float = 25.0,
                 variance_weight: float = 25.0, covariance_weight: float = 1.0,
                 gather: bool = False) -> None:
        super().__init__(build_backbone(backbone_name, image_size))
        self.expander = ProjectionHead(self.backbone.feature_dim, expander_dim, expander_dim,
                                       num_layers=3)
        self.weights = (invariance_weight, variance_weight, covariance_weight)
        self.gather = gather
        self.augment = BatchSimCLRViews(image_size, variant=variant, jitter=jitter, hue=hue)

    def views(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.augment(images)  # two (B, 3, H, W) float batches

    def training_step(self, inputs: tuple[torch.Tensor, torch.Tensor], labels: torch.Tensor
                      ) -> tuple[torch.Tensor, dict[str, Log]]:
        z = self.expander(self.backbone(torch.cat(inputs)))  # one pass: BN sees both views
        z1, z2 = z.chunk(2)
        loss, terms = vicreg_loss(z1, z2, *self.weights, gather=self.gather)
        return loss, {name: value.detach() for name, value in terms.items()}
