"""SimCLR views made for a whole batch at once, on whatever device the batch is on.

:class:`fgssl.transforms.SimCLRViews` augments one image at a time, as torchvision pipelines
do; that per-image Python loop is what normally limits SimCLR, on a GPU fed by two CPU cores
and even on the CPU itself. :class:`BatchSimCLRViews` draws the same random parameters per
image (crop, flip, colour jitter, hue, grayscale, blur, fine-grained variant) but applies them
as a few tensor operations over the batch (kornia for flip, jitter, grayscale and blur; fgssl's
own crop, hue rotation and variants). Same recipe, same parameters and defaults as the
per-image views, several times faster even on a CPU (``benchmarks/augment_speed.py``;
docs/RESULTS.md). :class:`BatchMultiCropViews` makes multi-crop views (two global, several
local; DINO's) from two of them.

Example::

    >>> views = BatchSimCLRViews(32, variant="gamma")
    >>> a, b = views(torch.zeros(8, 3, 32, 32, dtype=torch.uint8))
    >>> a.shape, a.dtype
    (torch.Size([8, 3, 32, 32]), torch.float32)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import kornia.augmentation as K
import torch
from torch import nn

from fgssl import transforms as T


def random_resized_crop(images: torch.Tensor, size: int, scale: tuple[float, float] = (0.08, 1.0),
                        ratio: tuple[float, float] = (3 / 4, 4 / 3), attempts: int = 10
                        ) -> torch.Tensor:
    """torchvision's RandomResizedCrop, drawn per image, applied to the whole batch at once.

    Per image: a box of a random fraction ``scale`` of the area with a log-uniform aspect
    ``ratio``, at a random place (the first of ``attempts`` draws that fits; else the largest
    centred box of an allowed ratio); all boxes are resized bilinearly to ``size`` x ``size``
    by one ``grid_sample`` (no antialiasing: in fgssl a crop is never larger than the output).
    (B, C, H, W) -> (B, C, size, size) float; faster than kornia's (docs/RESULTS.md).
    """
    batch, _, height, width = images.shape
    draws = torch.rand(2, batch, attempts, device=images.device)
    area = height * width * (scale[0] + (scale[1] - scale[0]) * draws[0])
    lo, hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = (lo + (hi - lo) * draws[1]).exp()
    box_w, box_h = (area * aspect).sqrt().round(), (area / aspect).sqrt().round()
    fits = (box_w >= 1) & (box_h >= 1) & (box_w <= width) & (box_h <= height)
    first = fits.int().argmax(1, keepdim=True)  # the first draw that fits
    box_w, box_h = box_w.gather(1, first)[:, 0], box_h.gather(1, first)[:, 0]
    fallback_w = min(width, round(height * ratio[1]))  # the whole image, ratio clamped
    fallback_h = min(height, round(width / ratio[0]))
    none_fit = ~fits.any(1)
    box_w = torch.where(none_fit, float(fallback_w), box_w)
    box_h = torch.where(none_fit, float(fallback_h), box_h)
    place = torch.rand(2, batch, device=images.device)
    left = torch.where(none_fit, (width - box_w) // 2, (place[0] * (width - box_w + 1)).floor())
    top = torch.where(none_fit, (height - box_h) // 2, (place[1] * (height - box_h + 1)).floor())
    return T.resize_boxes(images, left, top, box_w, box_h, size)


class RandomResizedCrop(nn.Module):
    """:func:`random_resized_crop` as a module, for ``nn.Sequential`` augmentation pipelines."""

    def __init__(self, size: int, scale: tuple[float, float] = (0.08, 1.0)) -> None:
        super().__init__()
        self.size, self.scale = size, scale

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return random_resized_crop(images, self.size, self.scale)


def apply_some(images: torch.Tensor, op: Callable[[torch.Tensor], torch.Tensor], p: float
               ) -> torch.Tensor:
    """``op`` applied to a random subset of the batch, each image chosen with probability p."""
    chosen = torch.rand(len(images), device=images.device) < p
    if not chosen.any():
        return images
    out = images.clone()
    out[chosen] = op(images[chosen])
    return out


class BatchSimCLRViews(nn.Module):
    """Two augmented views of each image of a batch, made for the whole batch at once on the
    batch's device; :class:`fgssl.transforms.SimCLRViews`'s recipe.

    Args:
        size: the views' side in pixels.
        variant: one of :data:`~fgssl.transforms.VARIANTS`.
        jitter: SimCLR's colour-jitter strength s (brightness, contrast, saturation 0.8·s).
        hue: the largest hue shift, 0 to 0.5 (default 0.2·s).
        crop_scale: the crops' range of areas (default: the variant's own,
            :func:`~fgssl.transforms.crop_scale_for`).

    Returns (when called on a (B, 3, H, W) uint8 batch):
        Two (B, 3, size, size) float batches, standardised; row i of each from image i."""

    def __init__(self, size: int, variant: str = "standard", jitter: float = 0.5,
                 hue: float | None = None, crop_scale: tuple[float, float] | None = None
                 ) -> None:
        super().__init__()
        self.size, self.variant = size, variant
        self.hue = T.check_view_settings(variant, jitter, hue)
        self.crop_scale = T.crop_scale_for(variant, crop_scale)
        self.crop = RandomResizedCrop(size, scale=self.crop_scale)
        self.flip = K.RandomHorizontalFlip()
        self.jitter = K.ColorJitter(0.8 * jitter, 0.8 * jitter, 0.8 * jitter)
        self.grayscale = K.RandomGrayscale(p=0.2)
        sigma = T.blur_sigma(size)
        self.blur = K.RandomGaussianBlur(T.blur_kernel(size), sigma, p=0.5) if sigma else None
        self.register_buffer("mean", torch.tensor(T.MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(T.STD).view(1, 3, 1, 1), persistent=False)

    def _colour(self, images: torch.Tensor) -> torch.Tensor:
        images = self.jitter(images)
        return T.rotate_hue(images, self.hue) if self.hue else images

    def _view(self, images: torch.Tensor, second: bool,
              saliency: torch.Tensor | None) -> torch.Tensor:
        if self.variant == "object_crop":
            views = T.object_crop(images, self.size, self.crop_scale, saliency=saliency)
        else:
            views = self.crop(images)
        views = apply_some(self.flip(views), self._colour, p=0.8)
        views = self.grayscale(views)
        if self.blur is not None:
            views = self.blur(views)
        if self.variant in T.BOTH_VIEWS:
            views = apply_some(views, T.BOTH_VIEWS[self.variant], p=0.5)
        elif second and self.variant in T.SECOND_VIEW_ONLY:
            views = T.SECOND_VIEW_ONLY[self.variant](views)
        return (views - self.mean) / self.std

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"need a (B, 3, H, W) batch, got shape {tuple(images.shape)}")
        floats = images.float() / 255 if images.dtype == torch.uint8 else images
        saliency = T.saliency_map(floats) if self.variant == "object_crop" else None  # shared
        return self._view(floats, False, saliency), self._view(floats, True, saliency)


class BatchMultiCropViews(nn.Module):
    """Multi-crop (Caron et al. 2020, SwAV; DINO's views): two global views of each image of a
    batch at the full size, then ``local_crops`` smaller ones, made as
    :class:`BatchSimCLRViews` makes its pairs.

    Args:
        size: the global views' side S in pixels.
        local_crops: local views per image, even (they are drawn in pairs).
        local_size: the local views' side (default: S/2).
        global_scale: the global crops' range of areas (default: the variant's own,
            :func:`~fgssl.transforms.crop_scale_for`).
        local_scale: the local crops' range of areas.
        variant: the global views' variant (the local ones are ``standard``).
        jitter: the colour jitter's strength s, for every view.

    Returns (when called on a (B, 3, H, W) uint8 batch):
        2 + ``local_crops`` float batches, standardised: (B, 3, S, S) twice, then
        (B, 3, local_size, local_size); row i of each from image i."""

    def __init__(self, size: int, local_crops: int, local_size: int | None = None,
                 global_scale: tuple[float, float] | None = None,
                 local_scale: tuple[float, float] = (0.05, 0.4), variant: str = "standard",
                 jitter: float = 0.5) -> None:
        super().__init__()
        if local_crops % 2:
            raise ValueError(f"local_crops must be even (they are drawn in pairs), got "
                             f"{local_crops}")
        self.local_crops = local_crops
        self.global_views = BatchSimCLRViews(size, variant=variant, jitter=jitter,
                                             crop_scale=global_scale)
        self.local_views = BatchSimCLRViews(local_size or size // 2, jitter=jitter,
                                            crop_scale=local_scale)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        local = [view for _ in range(self.local_crops // 2)
                 for view in self.local_views(images)]
        return (*self.global_views(images), *local)
