"""SRGAN's losses (Ledig et al. 2017, Sec. 2.2): pixel, adversarial and content.

- **pixel**: L1 or MSE between the super-resolved and the real image. Alone, it trains
  SRResNet: sharp where it is sure, an average (a blur) where it is not.
- **adversarial**: the discriminator D learns to tell real images from generated ones; the
  generator is rewarded when D is fooled. Non-saturating BCE (Goodfellow et al. 2014): D
  minimises ``-log D(x) - log(1 - D(G(z)))``, G minimises ``-log D(G(z))``. Relativistic
  (ESRGAN, Wang et al. 2018): D judges whether a real image is *more* real than the average
  generated one, and G the reverse.
- **content**: distances between feature maps of a fixed network rather than pixels. Ledig
  et al. use VGG19's relu5_4 ("VGG54") with ImageNet weights; :class:`VGGContent` loads them
  from torchvision's cache. Without them, :func:`feature_matching` compares the
  discriminator's own feature maps of the real and the generated image (Salimans et al.
  2016) — no download needed.

All logits are (B,); images (B, 3, H, W), standardised with the ImageNet mean and std.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from fgssl.utils import weights_cached

PIXEL_LOSSES = ("l1", "mse")
ADVERSARIAL_LOSSES = ("bce", "relativistic")
CONTENT_LOSSES = ("auto", "vgg", "features", "none")
VGG_WEIGHTS = torchvision.models.VGG19_Weights.IMAGENET1K_V1


def pixel_loss(generated: torch.Tensor, real: torch.Tensor, kind: str = "l1") -> torch.Tensor:
    """The pixel loss of super-resolution: mean absolute (``l1``) or squared (``mse``) error.

    Args:
        generated: (B, 3, H, W) the generator's images.
        real: (B, 3, H, W) the high-resolution originals.
        kind: ``l1`` or ``mse``.

    Returns:
        The loss, a scalar.
    """
    if kind not in PIXEL_LOSSES:
        raise ValueError(f"pixel loss must be one of {', '.join(PIXEL_LOSSES)}, got {kind!r}")
    return F.l1_loss(generated, real) if kind == "l1" else F.mse_loss(generated, real)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor,
                       kind: str = "bce") -> torch.Tensor:
    """The discriminator's loss (Ledig et al. 2017, eq. 2): call real images real (1) and
    generated ones fake (0), by binary cross-entropy on logits; ``relativistic`` (ESRGAN,
    Wang et al. 2018) judges each real image against the mean generated one and the other
    way round.

    Args:
        real_logits: (B, ...) D's logits on real images.
        fake_logits: (B, ...) D's logits on generated images.
        kind: ``bce`` or ``relativistic``.

    Returns:
        The loss, a scalar.
    """
    if kind == "relativistic":
        real_logits, fake_logits = (real_logits - fake_logits.mean(),
                                    fake_logits - real_logits.mean())
    elif kind != "bce":
        raise ValueError(f"adversarial loss must be one of {', '.join(ADVERSARIAL_LOSSES)}, "
                         f"got {kind!r}")
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_adversarial_loss(fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None,
                               kind: str = "bce") -> torch.Tensor:
    """The generator's adversarial loss (Ledig et al. 2017, eq. 6): the non-saturating
    −log D(G(x)); ``relativistic`` swaps the roles of real and generated in D's loss.

    Args:
        fake_logits: (B, ...) D's logits on generated images (with gradient to G).
        real_logits: (B, ...) D's logits on real images, without gradient (relativistic only).
        kind: ``bce`` or ``relativistic``.

    Returns:
        The loss, a scalar.
    """
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    if kind != "relativistic" or real_logits is None:
        raise ValueError("the relativistic loss needs the real images' logits; kinds: "
                         f"{', '.join(ADVERSARIAL_LOSSES)}")
    return discriminator_loss(fake_logits, real_logits, "relativistic")


def feature_matching(fake_maps: list[torch.Tensor], real_maps: list[torch.Tensor]
                     ) -> torch.Tensor:
    """Feature matching (Salimans et al. 2016): the mean L1 distance between D's feature maps
    of generated and real images.

    Args:
        fake_maps: D's feature maps of generated images, one tensor per depth.
        real_maps: the same for real images (detached here).

    Returns:
        The loss, a scalar.
    """
    return torch.stack([F.l1_loss(fake, real.detach())
                        for fake, real in zip(fake_maps, real_maps, strict=True)]).mean()


def vgg_weights_cached() -> bool:
    """Whether torchvision's cache already holds the ImageNet VGG19 weights."""
    return weights_cached(VGG_WEIGHTS.url)


class VGGContent(nn.Module):
    """Ledig et al.'s VGG54 loss: MSE between VGG19 relu5_4 maps (ImageNet weights, frozen)
    of generated and real images, the maps rescaled by 1/12.75 (Ledig et al., training details).
    Downloads the weights (548 MB) when they are not cached; fails with a clear message
    when it cannot."""

    def __init__(self) -> None:
        super().__init__()
        try:
            vgg = torchvision.models.vgg19(weights=VGG_WEIGHTS)
        except (OSError, RuntimeError) as error:  # URLError is an OSError
            raise ConnectionError(
                "the VGG19 ImageNet weights are not cached and could not be downloaded "
                f"({error}): connect to the internet once, or use content='features'"
            ) from error
        self.features = vgg.features[:36].eval().requires_grad_(False)  # up to relu5_4

    def train(self, mode: bool = True) -> VGGContent:
        return super().train(False)  # always frozen, BatchNorm-free, eval

    def forward(self, generated: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(self.features(generated), self.features(real).detach()) / 12.75**2


@dataclass(frozen=True)
class GeneratorObjective:
    """What the generator minimises: the pixel loss alone for the first ``pixel_fraction`` of
    the run (SRResNet), then pixel + ``adversarial_weight`` · adversarial + ``content_weight``
    · content (Ledig et al. 2017's perceptual loss, Sec. 2.2, with the pixel term kept beside
    it as in ESRGAN, Wang et al. 2018).

    Args:
        pixel: the pixel loss, ``"l1"`` or ``"mse"``.
        adversarial: ``"bce"`` or ``"relativistic"`` (ESRGAN's).
        content: ``"vgg"`` (VGG54), ``"features"`` (feature matching on the discriminator),
            ``"none"``, or ``"auto"`` (:class:`~fgssl.methods.srgan.SRGAN` decides which).
        adversarial_weight: the adversarial term's weight.
        content_weight: the content term's weight.
        pixel_fraction: the share of the run on the pixel loss alone, 0 to 1."""

    pixel: str = "l1"
    adversarial: str = "bce"
    content: str = "auto"
    adversarial_weight: float = 1e-2
    content_weight: float = 1.0
    pixel_fraction: float = 0.5

    def __post_init__(self) -> None:
        if self.pixel not in PIXEL_LOSSES or self.adversarial not in ADVERSARIAL_LOSSES or \
                self.content not in CONTENT_LOSSES:
            raise ValueError(f"pixel must be one of {', '.join(PIXEL_LOSSES)}, adversarial one "
                             f"of {', '.join(ADVERSARIAL_LOSSES)} and content one of "
                             f"{', '.join(CONTENT_LOSSES)}")
        if not 0 <= self.pixel_fraction <= 1:
            raise ValueError(f"pixel_fraction must be in [0, 1], got {self.pixel_fraction}")
