"""Backbones: images (B, 3, H, W) in, feature vectors (B, D) out; ``feature_dim`` says D.

- ``small_cnn``: four 3x3 conv layers (0.22M parameters, 8.1M multiply-adds at 32 px), fast
  enough on a laptop CPU for the ``cpu`` profile's SimCLR, where a ResNet-18 is over twenty
  times slower (docs/RESULTS.md). Only the first layer downsamples before the second:
  keeping 16x16 maps there is what lets it tell tails and beaks apart.
- ``resnet18`` / ``resnet50`` (He et al. 2016, torchvision) with the classifier removed. For
  small images (< 96 px) the stem switches to a 3x3 stride-1 convolution without max-pooling,
  as SimCLR does for CIFAR (Chen et al. 2020, appendix B.9), so a 32-px image is not reduced
  to 1x1 before the last stage.

Every method uses the same backbone, built for the profile's image size (Jigsaw shows it
tiles, with the stem of the whole image's size), so every evaluation compares like with like.

Example::

    >>> net = build_backbone("small_cnn")
    >>> net(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 192])
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from fgssl.utils import weights_cached

BACKBONES = ("small_cnn", "resnet18", "resnet50")
SMALL_IMAGE_LIMIT = 96  # below this size, ResNets get the small-image stem


def _conv_bn_relu(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SmallCNN(nn.Module):
    """Conv-BN-ReLU layers (widths 24-48-96-192, strides 2-1-2-2), global average pooling."""

    def __init__(self, widths: tuple[int, ...] = (24, 48, 96, 192),
                 strides: tuple[int, ...] = (2, 1, 2, 2)) -> None:
        super().__init__()
        layers, channels = [], 3
        for width, stride in zip(widths, strides, strict=True):
            layers.append(_conv_bn_relu(channels, width, stride))
            channels = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = channels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.pool(self.features(images)).flatten(1)  # (B, D)


IMAGENET_WEIGHTS = {"resnet18": torchvision.models.ResNet18_Weights.IMAGENET1K_V1,
                    "resnet50": torchvision.models.ResNet50_Weights.IMAGENET1K_V2}


class NoImageNetWeights(Exception):
    """An ImageNet-pretrained backbone cannot be had here; the message says why."""


class ResNetBackbone(nn.Module):
    """A torchvision ResNet without its classifier; ``small_images`` swaps in the CIFAR stem,
    ``imagenet`` loads torchvision's ImageNet weights (standard stem only)."""

    def __init__(self, depth: int = 18, small_images: bool = False, imagenet: bool = False
                 ) -> None:
        super().__init__()
        constructors = {18: torchvision.models.resnet18, 50: torchvision.models.resnet50}
        if depth not in constructors:
            raise ValueError(f"ResNet depth must be 18 or 50, got {depth}")
        net = constructors[depth](weights=IMAGENET_WEIGHTS[f"resnet{depth}"] if imagenet
                                  else None)
        if small_images:
            net.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
            net.maxpool = nn.Identity()
        self.feature_dim = net.fc.in_features
        net.fc = nn.Identity()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)  # (B, D)


def build_backbone(name: str, image_size: int = 32) -> nn.Module:
    """The backbone called ``name`` (one of :data:`BACKBONES`) for ``image_size`` inputs."""
    if name == "small_cnn":
        return SmallCNN()
    if name in ("resnet18", "resnet50"):
        return ResNetBackbone(int(name[6:]), small_images=image_size < SMALL_IMAGE_LIMIT)
    raise ValueError(f"unknown backbone {name!r}: choose one of {', '.join(BACKBONES)}")


def smallest_strided_input(backbone: nn.Module, size: int) -> int:
    """The smallest side of a feature map that reaches a strided convolution of ``backbone``
    when it reads (1, 3, size, size) images (``size`` when none strides). At 1, a layer
    strides over a single pixel: PyTorch's CPU bfloat16 kernel gets that layer's weight
    gradient wrong (torch 2.14: ``benchmarks/bf16_strided_conv.py``)."""
    sides = [size]
    strided = [module for module in backbone.modules()
               if isinstance(module, nn.Conv2d) and max(module.stride) > 1]
    hooks = [module.register_forward_pre_hook(
        lambda _, inputs: sides.append(min(inputs[0].shape[-2:]))) for module in strided]
    mode = backbone.training
    try:
        with torch.no_grad():
            backbone.eval()(torch.zeros(1, 3, size, size))
    finally:
        backbone.train(mode)
        for hook in hooks:
            hook.remove()
    return min(sides)


def imagenet_backbone(name: str, image_size: int) -> nn.Module:
    """``name`` with torchvision's ImageNet weights, from its local cache only (nothing is
    downloaded here); :class:`NoImageNetWeights` says why when that is not possible."""
    if name not in IMAGENET_WEIGHTS:
        raise NoImageNetWeights(f"no ImageNet weights exist for {name} (the gpu profile's "
                                "resnet18 has them)")
    if image_size < SMALL_IMAGE_LIMIT:
        raise NoImageNetWeights(f"at {image_size} px {name} uses the small-image stem, which "
                                "ImageNet weights do not fit (use the gpu profile)")
    url = IMAGENET_WEIGHTS[name].url
    if not weights_cached(url):
        raise NoImageNetWeights(
            f"{name}'s ImageNet weights are not in torchvision's cache; with internet, run "
            f"python -c \"import torchvision; torchvision.models.{name}(weights='DEFAULT')\" "
            "once")
    return ResNetBackbone(int(name[6:]), imagenet=True)
