"""Progressive Multi-Granularity training (PMG; Du et al., ECCV 2020), the study's supervised
fine-grained baseline: "Fine-Grained Visual Classification via Progressive Multi-Granularity
Training of Jigsaw Patches".

Jigsaw again, with labels this time. The image is cut into an n x n grid of patches that are
shuffled (:func:`jigsaw_patches`): at a fine granularity only small parts survive, so a
classifier must recognise the species from parts alone; at a coarse one, from larger
regions. PMG gives each of the backbone's last three stages its own head (a conv block, global
max pooling, a classifier) and trains them *progressively* within every batch: the shallowest
stage on the finest shuffle, the next on a coarser one, the deepest on a coarser still, and
finally the three stages' features concatenated on the whole image — four steps, each its own
backward pass and optimizer step, driven by :func:`fgssl.train.fit` like any method with
several steps. The prediction adds the four heads' logits (:meth:`PMG.logits`).

The granularities scale with the image (:func:`granularities_for`): the paper's {8, 4, 2} at
448 px, {4, 2, 1} at 32 px (a patch is never under 8 px). The number of classes comes from the
data, never from a constant (the study's copy had 200 outputs for a 5-class problem).

Example::

    >>> pmg = PMG(num_classes=24, image_size=32)
    >>> pmg.logits(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 24])
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from fgssl.methods.about import Entry, Recipe, Schedule, schedules
from fgssl.methods.base import Method, Step, sgd
from fgssl.methods.supervised import labelled_augmentation
from fgssl.models.backbones import ResNetBackbone, SmallCNN, build_backbone

MIN_PATCH = 8  # pixels: finer patches hold no part worth recognising


def granularities_for(image_size: int) -> tuple[int, int, int]:
    """PMG's patches per side for the three stages, finest first: (8, 4, 2) from 64 px up,
    halved below so that a patch keeps at least ``MIN_PATCH`` pixels.

    Args:
        image_size: the images' side in pixels.

    Returns:
        Three numbers of patches per side, e.g. (4, 2, 1) at 32 px."""
    finest = max(1, min(8, image_size // MIN_PATCH))
    return finest, max(1, finest // 2), max(1, finest // 4)


def jigsaw_patches(images: torch.Tensor, n: int, order: torch.Tensor | None = None
                   ) -> torch.Tensor:
    """PMG's jigsaw: an n × n grid of patches shuffled in each image (Du et al. 2020). Patches
    are ``H // n`` × ``W // n`` px; the remainder at the right and bottom (when n does not
    divide the size) stays where it is.

    Args:
        images: (B, C, H, W).
        n: patches per side.
        order: (B, n²): position k (row major) of image b gets patch ``order[b, k]``
            (default: a random permutation per image).

    Returns:
        (B, C, H, W), shuffled."""
    batch, channels, height, width = images.shape
    if n == 1:
        return images
    ph, pw = height // n, width // n
    grid = images[:, :, :n * ph, :n * pw]
    patches = grid.reshape(batch, channels, n, ph, n, pw).permute(0, 2, 4, 1, 3, 5)
    patches = patches.reshape(batch, n * n, channels, ph, pw)  # (B, n², C, ph, pw), row-major
    if order is None:
        order = torch.rand(batch, n * n).argsort(1)
    shuffled = patches[torch.arange(batch)[:, None], order.to(images.device)]
    shuffled = shuffled.reshape(batch, n, n, channels, ph, pw).permute(0, 3, 1, 4, 2, 5)
    out = images.clone()
    out[:, :, :n * ph, :n * pw] = shuffled.reshape(batch, channels, n * ph, n * pw)
    return out


def stage_maps(backbone: nn.Module, images: torch.Tensor) -> list[torch.Tensor]:
    """The feature maps of the backbone's last three stages: (B, C_k, H_k, W_k), k = 1..3 —
    the small CNN's last three blocks, a ResNet's layer2, layer3, layer4."""
    if isinstance(backbone, SmallCNN):
        x, maps = images, []
        for index, block in enumerate(backbone.features):
            x = block(x)
            if index >= len(backbone.features) - 3:
                maps.append(x)
        return maps
    if isinstance(backbone, ResNetBackbone):
        net = backbone.net
        x = net.layer1(net.maxpool(net.relu(net.bn1(net.conv1(images)))))
        maps = []
        for layer in (net.layer2, net.layer3, net.layer4):
            x = layer(x)
            maps.append(x)
        return maps
    raise ValueError(f"PMG needs a small_cnn or ResNet backbone, not {type(backbone).__name__}")


def _stage_widths(backbone: nn.Module, image_size: int) -> list[int]:
    with torch.no_grad():
        was_training = backbone.training
        backbone.eval()
        widths = [m.shape[1] for m in stage_maps(backbone, torch.zeros(1, 3, image_size,
                                                                        image_size))]
        backbone.train(was_training)
    return widths


class _StageHead(nn.Module):
    """A stage's conv block (1x1 then 3x3 conv, BN, ReLU), global max pooling and classifier:
    (B, C, h, w) -> features (B, width) and logits (B, classes)."""

    def __init__(self, channels: int, width: int, num_classes: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(channels, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True),
            nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
            nn.ReLU(True))
        self.classifier = nn.Sequential(nn.BatchNorm1d(width), nn.Linear(width, num_classes))

    def forward(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.block(maps).amax(dim=(2, 3))
        return features, self.classifier(features)


class PMG(Method):
    """Three stage heads and a concatenated one, trained progressively on jigsaw patches."""

    name = "pmg"
    summary = "PMG, jigsaw patches at three granularities, with labels (Du et al. 2020)"
    learns_from_labels = True
    base_lr = 0.2
    runtime_arguments = ("backbone", "backbone_lr_factor")  # how fast a given backbone learns
    fine_tuning_head = True  # the study fine-tunes ImageNet weights under PMG's heads
    schedule = schedules(cpu=Schedule(epochs=15, batch_size=64),
                         gpu=Schedule(epochs=50, batch_size=32),
                         full=Schedule(epochs=50, batch_size=32))
    entries = (
        Entry("pmg", "PMG (progressive multi-granularity jigsaw patches, Du et al. 2020) from "
                     "scratch on the same label budget, end to end", weights="random",
              end_to_end=Recipe("pmg", 1.0, "pmg"), opt_in=True, cost=700),
        Entry("pmg-imagenet", "PMG from ImageNet weights on the label budget, end to end (the "
                              "study's baseline, at this profile's resolution)",
              weights="imagenet", end_to_end=Recipe("pmg", 0.1, "pmg"), opt_in=True, cost=650),
    )

    def __init__(self, num_classes: int, backbone_name: str = "small_cnn",
                 image_size: int = 32, head_width: int = 128, backbone: nn.Module | None = None,
                 backbone_lr_factor: float = 1.0) -> None:
        if num_classes < 2:
            raise ValueError(f"PMG needs at least 2 classes, got {num_classes}")
        if not 0 <= backbone_lr_factor <= 1:
            raise ValueError(f"backbone_lr_factor must be in [0, 1], got {backbone_lr_factor}")
        super().__init__(backbone if backbone is not None
                         else build_backbone(backbone_name, image_size))
        self.backbone_lr_factor = backbone_lr_factor  # the paper: 0.1 for ImageNet weights
        self.granularities = granularities_for(image_size)
        self.heads = nn.ModuleList(_StageHead(channels, head_width, num_classes)
                                   for channels in _stage_widths(self.backbone, image_size))
        self.combined = nn.Sequential(nn.BatchNorm1d(3 * head_width),
                                      nn.Linear(3 * head_width, num_classes))
        self.augment = labelled_augmentation(image_size)  # as the supervised baseline's

    def views(self, images: torch.Tensor) -> torch.Tensor:
        return self.augment(images.float() / 255)

    def optimizers(self, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
        """One SGD: the backbone at ``backbone_lr_factor`` x ``lr``, the heads at ``lr``."""
        heads = [p for name, p in self.named_parameters() if not name.startswith("backbone.")]
        return [sgd([(list(self.backbone.parameters()), self.backbone_lr_factor),
                     (heads, 1.0)], lr, weight_decay)]

    def stage_logits(self, images: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Each stage head's logits (3 x (B, classes)) and the concatenated head's."""
        outputs = [head(maps) for head, maps in zip(self.heads, stage_maps(self.backbone,
                                                                           images), strict=True)]
        features = torch.cat([f for f, _ in outputs], dim=1)
        return [logits for _, logits in outputs], self.combined(features)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """The prediction: the sum of all four heads' logits on the whole image, (B, classes)."""
        stages, combined = self.stage_logits(images)
        return torch.stack([*stages, combined]).sum(0)

    def training_steps(self, inputs: torch.Tensor, labels: torch.Tensor) -> Iterator[Step]:
        """Four steps on one batch: stage k on patches of granularity ``granularities[k]``
        (finest on the shallowest), then the concatenated head on the whole image."""
        if (labels < 0).any():
            raise ValueError("PMG needs labels: use a labelled split, not the unlabelled pool")
        for stage, n in enumerate(self.granularities):
            maps = stage_maps(self.backbone, jigsaw_patches(inputs, n))[stage]
            loss = F.cross_entropy(self.heads[stage](maps)[1], labels)
            yield 0, loss, {f"loss_stage{stage + 1}": loss.detach()}
        _, combined = self.stage_logits(inputs)
        loss = F.cross_entropy(combined, labels)
        accuracy = (combined.argmax(1) == labels).float().mean()
        yield 0, loss, {"loss_combined": loss.detach(), "train_accuracy": accuracy}
