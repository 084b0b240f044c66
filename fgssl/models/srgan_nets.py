"""SRGAN's two networks (Ledig et al. 2017, Fig. 4), and their features as backbones.

- :class:`SRResNet`, the generator: a 9x9 convolution, ``blocks`` residual blocks
  (conv-BN-PReLU-conv-BN plus the input), a conv-BN whose output is added to the first
  convolution's (the global skip), then one ×2 PixelShuffle stage per factor of two of the
  scale, and a 9x9 convolution to RGB (``tail_kernel``). One departure, on by default
  (``residual``): the output is *added to the bicubic up-scaling* of the input, so the network
  learns only the detail bicubic misses (as VDSR, Kim et al. 2016, does); the last convolution
  starts small, so a new generator already matches bicubic. On a CPU budget this is what gets
  it past bicubic in minutes instead of hours.
- :class:`Discriminator`: eight 3x3 convolutions with LeakyReLU(0.2), BatchNorm after all but
  the first, every second one strided, widths doubling every two layers; then a dense layer of
  1024, LeakyReLU, and one logit. Ledig et al. flatten a fixed 6x6 map (96-px crops only; the
  common public implementation asserts 96x96); here an adaptive average pool comes first, so
  any input size works (at least 16 px: four stride-2 layers).

Both work on images standardised like every backbone's input (ImageNet mean and std), so
their features are evaluated exactly like the other methods'.

Example::

    >>> generator, critic = SRResNet(scale=4), Discriminator()
    >>> generator(torch.zeros(2, 3, 16, 16)).shape, critic(torch.zeros(2, 3, 64, 64)).shape
    (torch.Size([2, 3, 64, 64]), torch.Size([2]))
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SCALES = (2, 4)
MIN_JUDGED_SIZE = 16  # the discriminator's smallest input: four stride-2 layers


class ResidualBlock(nn.Module):
    """conv-BN-PReLU-conv-BN, added to the input: (B, C, h, w) -> (B, C, h, w)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
            nn.PReLU(channels),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features + self.body(features)


class SRResNet(nn.Module):
    """The generator: LR (B, 3, h, w) -> SR (B, 3, scale·h, scale·w)."""

    def __init__(self, scale: int = 4, channels: int = 64, blocks: int = 16,
                 residual: bool = True, tail_kernel: int = 9) -> None:
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"the scale must be one of {SCALES}, got {scale}")
        self.scale, self.channels, self.residual = scale, channels, residual
        self.head = nn.Sequential(nn.Conv2d(3, channels, 9, padding=4), nn.PReLU(channels))
        self.blocks = nn.Sequential(*[ResidualBlock(channels) for _ in range(blocks)])
        self.merge = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                                   nn.BatchNorm2d(channels))
        self.upsample = nn.Sequential(*[
            nn.Sequential(nn.Conv2d(channels, 4 * channels, 3, padding=1), nn.PixelShuffle(2),
                          nn.PReLU(channels))
            for _ in range(int(math.log2(scale)))])
        self.tail = nn.Conv2d(channels, 3, tail_kernel, padding=tail_kernel // 2)
        if residual:  # start close to "add nothing to bicubic"
            with torch.no_grad():
                self.tail.weight.mul_(0.1)
                self.tail.bias.zero_()

    def trunk(self, low_resolution: torch.Tensor) -> torch.Tensor:
        """Features before up-sampling, at the input's resolution: (B, channels, h, w)."""
        head = self.head(low_resolution)
        return head + self.merge(self.blocks(head))

    def forward(self, low_resolution: torch.Tensor) -> torch.Tensor:
        detail = self.tail(self.upsample(self.trunk(low_resolution)))
        if not self.residual:
            return detail
        return detail + F.interpolate(low_resolution, scale_factor=self.scale, mode="bicubic",
                                      align_corners=False)


class Discriminator(nn.Module):
    """Real-or-generated logit of (B, 3, H, W) images: (B,). ``width`` is the first layer's
    (64 in the paper); the eight layers have width, width, 2w, 2w, 4w, 4w, 8w, 8w channels."""

    def __init__(self, width: int = 64, dense: int = 1024) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for index in range(8):
            out = width * 2 ** (index // 2)
            stride = 2 if index % 2 else 1
            layers.append(nn.Sequential(
                nn.Conv2d(channels, out, 3, stride=stride, padding=1, bias=index > 0),
                nn.BatchNorm2d(out) if index > 0 else nn.Identity(),
                nn.LeakyReLU(0.2, inplace=True)))
            channels = out
        self.layers = nn.ModuleList(layers)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                        nn.Linear(channels, dense), nn.LeakyReLU(0.2, inplace=True),
                                        nn.Linear(dense, 1))

    def stages(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The feature map after each pair of layers (one per resolution): 4 maps."""
        maps, features = [], images
        for index, layer in enumerate(self.layers):
            features = layer(features)
            if index % 2:
                maps.append(features)
        return maps

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.stages(images)[-1]).squeeze(1)


class DiscriminatorFeatures(nn.Module):
    """``srgan-d``: the discriminator's conv features, globally average-pooled — the last
    stage's, or every stage's concatenated: (B, 3, H, W) -> (B, D).

    Its four strides are tuned to the scale it judged in training: shown images half that
    size, a trained discriminator loses most of what it learned (docs/RESULTS.md).

    Args:
        discriminator: the SRGAN discriminator.
        depths: ``"all"`` stages or the ``"last"``.
        input_size: the image size the features are meant to be taken at, the size of the
            high-resolution images the discriminator judged (evaluation reads it:
            :func:`fgssl.evaluate.features.at_input_size`)."""

    def __init__(self, discriminator: Discriminator, depths: str = "all",
                 input_size: int | None = None) -> None:
        super().__init__()
        if depths not in ("last", "all"):
            raise ValueError(f"depths must be 'last' or 'all', got {depths!r}")
        self.discriminator, self.depths, self.input_size = discriminator, depths, input_size
        widths = [layer[0].out_channels for layer in discriminator.layers[1::2]]
        self.feature_dim = sum(widths) if depths == "all" else widths[-1]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        maps = self.discriminator.stages(images)
        chosen = maps if self.depths == "all" else maps[-1:]
        return torch.cat([m.mean(dim=(2, 3)) for m in chosen], dim=1)


class GeneratorFeatures(nn.Module):
    """``srgan-g``: the generator's trunk features (before up-sampling), globally
    average-pooled: (B, 3, H, W) -> (B, channels). The image is the generator's input."""

    def __init__(self, generator: SRResNet) -> None:
        super().__init__()
        self.generator = generator
        self.feature_dim = generator.channels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.generator.trunk(images).mean(dim=(2, 3))
