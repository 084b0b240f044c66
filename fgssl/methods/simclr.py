"""SimCLR (Chen et al. 2020) and its NT-Xent loss.

"We randomly sample a minibatch of N examples and define the contrastive prediction task on
pairs of augmented examples derived from the minibatch, resulting in 2N data points. ... Given
a positive pair, we treat the other 2(N - 1) augmented examples within a minibatch as negative
examples." With cosine similarity sim(u, v) = u·v / (|u| |v|), the loss of the positive pair
(i, j) is

    l(i, j) = -log exp(sim(z_i, z_j) / t) / sum_{k != i} exp(sim(z_i, z_k) / t)

averaged over all 2N anchors — a cross-entropy over the rows of the 2N x 2N similarity matrix
with its diagonal removed, the positive of row i being its other view.

Example::

    >>> z1, z2 = torch.randn(8, 16), torch.randn(8, 16)
    >>> nt_xent(z1, z2, temperature=0.5).shape
    torch.Size([])
"""

from __future__ import annotations

from types import MappingProxyType

import torch
import torch.nn.functional as F

from fgssl import distributed
from fgssl.gpu_augment import BatchSimCLRViews
from fgssl.methods.about import Entry, Option, Schedule, schedules
from fgssl.methods.base import Log, Method, per_sample
from fgssl.models.backbones import build_backbone
from fgssl.models.heads import ProjectionHead
from fgssl.transforms import VARIANTS, SimCLRViews

AUGMENT_MODES = ("batch", "image")
BEST_VARIANT = "object_crop"  # the fine-grained variant the study shows beside the standard one


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5,
            gather: bool = False) -> torch.Tensor:
    """SimCLR's NT-Xent loss (Chen et al. 2020, eq. 1), averaged over the 2N anchors.

    Each of the 2N ℓ2-normalised projections is an anchor whose positive is the other view of
    its image and whose negatives are the other 2N − 2 rows:
    ℓ(i, j) = −log exp(sim(z_i, z_j)/τ) / Σ_{k ≠ i} exp(sim(z_i, z_k)/τ).

    Args:
        z1: (N, D) projections of the first views.
        z2: (N, D) projections of the second views; row i of each is the same image.
        temperature: τ, positive.
        gather: under torchrun, every process's rows are negatives too (gathered with
            gradients, as SimCLR does across TPU cores).

    Returns:
        The loss, a scalar.
    """
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"need two (N, D) batches of the same shape, got {tuple(z1.shape)} "
                         f"and {tuple(z2.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    n = z1.shape[0]
    anchors = F.normalize(torch.cat([z1, z2]), dim=1)  # (2N, D): view 1 then view 2
    candidates, offset = anchors, 0
    if gather and distributed.initialised():
        # each rank's block of 2N rows is [view 1; view 2], so positives keep their offsets
        candidates, offset = distributed.gather_with_grad(anchors)
    logits = anchors @ candidates.T / temperature  # (2N, 2N x world)
    rows = torch.arange(2 * n, device=z1.device)
    itself = torch.zeros_like(logits, dtype=torch.bool)
    itself[rows, rows + offset] = True
    logits = logits.masked_fill(itself, float("-inf"))  # an anchor is not its own negative
    positives = (rows + n) % (2 * n) + offset
    return F.cross_entropy(logits, positives)


class SimCLR(Method):
    """Backbone f, projection head g, NT-Xent on g(f(view 1)), g(f(view 2)) (Chen et al. 2020).

    Views are made for the whole batch at once (``augment="batch"``,
    :class:`~fgssl.gpu_augment.BatchSimCLRViews`) or image by image as torchvision pipelines
    do (``augment="image"``, :class:`~fgssl.transforms.SimCLRViews`); same recipe. The
    temperature defaults to 0.2 (the study used 0.5), and the colour jitter's strength s to
    0.25 (Chen et al. used 1.0 on ImageNet, 0.5 on CIFAR-10): fine-grained species can differ
    in the colour of a part, and strong jitter teaches the network to ignore colour
    (docs/RESULTS.md measures both).

    Args:
        backbone_name: one of :data:`~fgssl.models.backbones.BACKBONES`.
        image_size: the side of the images it trains on, in pixels.
        variant: the view variant (:data:`~fgssl.transforms.VARIANTS`).
        jitter: the colour jitter's strength s (brightness, contrast, saturation 0.8·s).
        hue: the largest hue rotation, in turns (default: 0.2·s).
        temperature: τ of NT-Xent.
        hidden_dim: the projection head's hidden width.
        projection_dim: the width of z = g(f(x)).
        gather_negatives: under torchrun, every process's batch as negatives.
        augment: ``"batch"`` or ``"image"``."""

    name = "simclr"
    summary = "SimCLR, contrasting two views of each image (Chen et al. 2020)"
    base_lr = 0.3
    # cpu: the cpu profile's 3 minutes (docs/RESULTS.md); gpu: a class period on a T4
    schedule = schedules(cpu=Schedule(epochs=30), gpu=Schedule(epochs=30))
    # under torchrun, contrast with every process's views
    distributed_settings = MappingProxyType({"gather_negatives": True})
    options = (Option("variant", "the view variant (default standard): the study's "
                                 "fine-grained augmentations", choices=VARIANTS),)
    entries = (
        Entry("simclr", "SimCLR, standard views", opt_in=True, cost=300),
        Entry(f"simclr-{BEST_VARIANT}", f"SimCLR, {BEST_VARIANT} views",
              options={"variant": BEST_VARIANT}, cost=310),
    )

    def __init__(self, backbone_name: str = "small_cnn", image_size: int = 32,
                 variant: str = "standard", jitter: float = 0.25, hue: float | None = None,
                 temperature: float = 0.2,
                 hidden_dim: int = 512, projection_dim: int = 128,
                 gather_negatives: bool = False, augment: str = "batch") -> None:
        super().__init__(build_backbone(backbone_name, image_size))
        if augment not in AUGMENT_MODES:
            raise ValueError(f"augment must be one of {', '.join(AUGMENT_MODES)}, got {augment!r}")
        self.head = ProjectionHead(self.backbone.feature_dim, hidden_dim, projection_dim)
        views = BatchSimCLRViews if augment == "batch" else SimCLRViews
        self.augment = views(image_size, variant=variant, jitter=jitter, hue=hue)
        self.temperature, self.gather_negatives = temperature, gather_negatives

    def views(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(self.augment, BatchSimCLRViews):
            return self.augment(images)  # two (B, 3, H, W) float batches
        return per_sample(self.augment, images)

    def training_step(self, inputs: tuple[torch.Tensor, torch.Tensor], labels: torch.Tensor
                      ) -> tuple[torch.Tensor, dict[str, Log]]:
        view1, view2 = inputs
        z = self.head(self.backbone(torch.cat([view1, view2])))  # one pass: BN sees both views
        z1, z2 = z.chunk(2)
        loss = nt_xent(z1, z2, self.temperature, gather=self.gather_negatives)
        with torch.no_grad():  # how often the positive is the nearest neighbour
            similarity = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T
            accuracy = (similarity.argmax(1) == torch.arange(len(z1), device=z.device))
        return loss, {"pair_accuracy": accuracy.float().mean()}
