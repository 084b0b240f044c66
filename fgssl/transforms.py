"""SimCLR views image by image (torchvision v2), and the study's fine-grained variants.

The standard recipe (Chen et al. 2020, appendix A): random resized crop, horizontal flip,
colour jitter (brightness, contrast, saturation 0.8·s, applied with p = 0.8), random grayscale
(p = 0.2) and Gaussian blur (p = 0.5, sigma in [0.1, 2.0] at 224 px, scaled with the image
size; below 64 px it would move less than half a pixel and is left out, as SimCLR's CIFAR
setting does). SimCLR also shifts hue by up to 0.2·s (the default here too). A hue shift turns
a red beak orange, so it can erase species that differ only in a part's colour; but without it
the body colour of each bird becomes an easy shortcut for telling instances apart —
augmentations define what a representation learns to ignore. Notebook 05 measures it per
sibling pair.

Fine-grained variants (Al Breiki et al. 2021, after DCL, Chen et al. 2019), selected by name:

- ``gamma``: random gamma in [0.5, 2.5] on both views (p = 0.5);
- ``coarse_dropout``: 5-20 holes, each 4.5-11% of the image side, on both views (p = 0.5);
- ``patch_swap``: two random squares (1/4 of the side) swap places in the second view;
- ``jigsaw_shuffle``: the second view cut in 4x4 tiles and shuffled;
- ``region_confusion``: DCL's shuffle of a 7x7 grid in which a tile moves at most 2 places;
- ``object_crop``: both crops taken around the most salient region (spectral residual,
  Hou & Zhang 2007), found without labels.

Each takes one (3, H, W) image or a (B, 3, H, W) batch, drawing its randomness per image, so
the per-image pipeline here (:class:`SimCLRViews`) and the batched one
(:mod:`fgssl.gpu_augment`) share the code. :class:`SimCLRViews` returns two float views.

Example::

    >>> views = SimCLRViews(32, variant="jigsaw_shuffle")
    >>> a, b = views(torch.zeros(3, 32, 32, dtype=torch.uint8))
    >>> a.shape, b.dtype
    (torch.Size([3, 32, 32]), torch.float32)
"""

# Over 300 lines: the views and every fine-grained variant, one code path per image and batch.

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torchvision.transforms import v2

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
VARIANTS = ("standard", "gamma", "coarse_dropout", "patch_swap", "jigsaw_shuffle",
            "region_confusion", "object_crop")


def normalise() -> v2.Transform:
    """uint8 or float image -> float32 in [0, 1], then standardised with ImageNet statistics."""
    return v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)])


def one_or_batch(op: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """Let a batched op (on (B, 3, H, W), its own random draw per image) take one (3, H, W)
    image too: the per-image and the batched pipelines share every variant's code."""
    @functools.wraps(op)
    def apply(images: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if images.ndim == 3:
            return op(images[None], *args, **kwargs)[0]
        return op(images, *args, **kwargs)
    return apply


@one_or_batch
def random_gamma(images: torch.Tensor, low: float = 0.5, high: float = 2.5) -> torch.Tensor:
    """``image ** gamma`` on [0, 1] float images, gamma uniform in [low, high] per image."""
    gamma = torch.empty(len(images), 1, 1, 1, device=images.device).uniform_(low, high)
    return images.clamp(0, 1) ** gamma


@one_or_batch
def coarse_dropout(images: torch.Tensor, holes: tuple[int, int] = (5, 20),
                   hole_fraction: tuple[float, float] = (0.045, 0.11)) -> torch.Tensor:
    """Zero out a random number of square holes per image, each a random fraction of the side."""
    batch, _, height, width = images.shape
    device = images.device
    count = torch.randint(holes[0], holes[1] + 1, (batch, 1), device=device)
    used = torch.arange(holes[1], device=device) < count  # (B, holes)
    side = (torch.empty(batch, holes[1], device=device).uniform_(*hole_fraction) * width)
    side = side.round().clamp_min(1)
    top = (torch.rand(batch, holes[1], device=device) * (height - side + 1)).floor()
    left = (torch.rand(batch, holes[1], device=device) * (width - side + 1)).floor()
    ys = torch.arange(height, device=device)[None, None, :, None]  # (1, 1, H, 1)
    xs = torch.arange(width, device=device)[None, None, None, :]   # (1, 1, 1, W)
    inside = ((ys >= top[..., None, None]) & (ys < (top + side)[..., None, None])
              & (xs >= left[..., None, None]) & (xs < (left + side)[..., None, None]))
    dropped = (inside & used[..., None, None]).any(1, keepdim=True)  # (B, 1, H, W)
    return images.masked_fill(dropped, 0)


def _remap(images: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """Move pixels: output pixel p of image b is input pixel ``source[b, p]`` (flat index into
    H x W; ``source`` is (B, H, W))."""
    batch, channels, height, width = images.shape
    index = source.reshape(batch, 1, height * width).expand(-1, channels, -1)
    return images.flatten(2).gather(2, index).view_as(images)


def _tile_source(rows: torch.Tensor, cols: torch.Tensor, height: int, width: int
                 ) -> torch.Tensor:
    """The pixel map (B, H, W) of a tile rearrangement: output tile (i, j) is input tile
    (rows[b, i, j], cols[b, i, j]) of a g x g grid of integer-sized tiles; leftover border
    pixels stay in place."""
    grid = rows.shape[-1]
    tile_h, tile_w = height // grid, width // grid
    ys = torch.arange(height, device=rows.device)
    xs = torch.arange(width, device=rows.device)
    tile_y, tile_x = (ys // tile_h).clamp(max=grid - 1), (xs // tile_w).clamp(max=grid - 1)
    source_y = rows[:, tile_y][:, :, tile_x] * tile_h + (ys % tile_h)[:, None]  # (B, H, W)
    source_x = cols[:, tile_y][:, :, tile_x] * tile_w + (xs % tile_w)[None, :]
    inside = (ys < grid * tile_h)[:, None] & (xs < grid * tile_w)[None, :]
    identity = ys[:, None] * width + xs[None, :]
    return torch.where(inside, source_y * width + source_x, identity)


@one_or_batch
def patch_swap(images: torch.Tensor, fraction: float = 0.25) -> torch.Tensor:
    """Swap two random squares of side ``fraction`` x the image side (they may overlap)."""
    batch, _, height, width = images.shape
    device = images.device
    side = max(1, int(fraction * min(height, width)))
    tops = torch.randint(0, height - side + 1, (batch, 2, 1, 1), device=device)
    lefts = torch.randint(0, width - side + 1, (batch, 2, 1, 1), device=device)
    ys = torch.arange(height, device=device)[None, :, None]  # (1, H, 1)
    xs = torch.arange(width, device=device)[None, None, :]   # (1, 1, W)
    source = (ys * width + xs).expand(batch, height, width)
    for here, there in ((0, 1), (1, 0)):  # square 1 takes square 2's pixels, then vice versa
        inside = ((ys >= tops[:, here]) & (ys < tops[:, here] + side)
                  & (xs >= lefts[:, here]) & (xs < lefts[:, here] + side))
        shift = (tops[:, there] - tops[:, here]) * width + lefts[:, there] - lefts[:, here]
        source = torch.where(inside, ys * width + xs + shift, source)
    return _remap(images, source)


@one_or_batch
def jigsaw_shuffle(images: torch.Tensor, grid: int = 4) -> torch.Tensor:
    """Cut each image into grid x grid tiles and put them back in a random order."""
    order = torch.rand(len(images), grid * grid, device=images.device).argsort(1)
    order = order.view(-1, grid, grid)
    return _remap(images, _tile_source(order // grid, order % grid, *images.shape[-2:]))


@one_or_batch
def region_confusion(images: torch.Tensor, grid: int = 7, reach: int = 2) -> torch.Tensor:
    """DCL's region confusion: in each row, tile j moves to the rank of ``j + r``, r uniform in
    [-reach, reach]; then the same along each column. No tile moves more than ``reach``
    places per axis, so local structure survives while global layout is confused."""
    batch, device = len(images), images.device
    index = torch.arange(grid, device=device)
    rows = index.view(1, grid, 1).expand(batch, grid, grid)
    cols = index.view(1, 1, grid).expand(batch, grid, grid)
    jitter = torch.empty(batch, grid, grid, device=device).uniform_(-reach, reach)
    order = (index.view(1, 1, grid) + jitter).argsort(2)  # within each row
    rows, cols = rows.gather(2, order), cols.gather(2, order)
    jitter = torch.empty(batch, grid, grid, device=device).uniform_(-reach, reach)
    order = (index.view(1, grid, 1) + jitter).argsort(1)  # then within each column
    rows, cols = rows.gather(1, order), cols.gather(1, order)
    return _remap(images, _tile_source(rows, cols, *images.shape[-2:]))


@one_or_batch
def saliency_map(images: torch.Tensor) -> torch.Tensor:
    """Spectral-residual saliency (Hou & Zhang 2007): (B, 3, H, W) -> (B, H, W) in [0, 1]."""
    gray = images.float().mean(1)
    spectrum = torch.fft.fft2(gray)  # F = A·exp(iP)
    log_amplitude = torch.log(spectrum.abs() + 1e-8)  # L = log A
    smoothed = torch.nn.functional.avg_pool2d(log_amplitude[:, None], 3, 1, 1,
                                              count_include_pad=False)[:, 0]  # h ∗ L
    # the spectral residual R = L − h ∗ L with the phase put back: exp(R + iP) = F·exp(−h ∗ L)
    # (to the 1e-8), computed so: no complex exp, no atan2 (most of this function's time)
    residual = spectrum * torch.exp(-smoothed)
    saliency = torch.fft.ifft2(residual).abs() ** 2
    saliency = v2.functional.gaussian_blur(saliency[:, None], [5, 5], [1.5, 1.5])[:, 0]
    return saliency / saliency.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]


def resize_boxes(images: torch.Tensor, left: torch.Tensor, top: torch.Tensor,
                 box_width: torch.Tensor, box_height: torch.Tensor, size: int) -> torch.Tensor:
    """One box per image (pixel edges, (B,) each) resized bilinearly to ``size`` x ``size``
    with a single ``grid_sample``: (B, C, H, W) -> (B, C, size, size) float."""
    batch, channels, height, width = images.shape
    theta = torch.zeros(batch, 2, 3, device=images.device)  # output [-1, 1] -> the box
    theta[:, 0, 0], theta[:, 1, 1] = box_width / width, box_height / height
    theta[:, 0, 2] = (2 * left + box_width) / width - 1
    theta[:, 1, 2] = (2 * top + box_height) / height - 1
    grid = F.affine_grid(theta, [batch, channels, size, size], align_corners=False)
    return F.grid_sample(images.float(), grid, mode="bilinear", align_corners=False)


def _draw_index(weights: torch.Tensor) -> torch.Tensor:
    """One column index per row of (B, N) non-negative ``weights``, drawn with probability
    proportional to its weight: (B,) long. Inverse-CDF sampling (a cumulative sum and a
    binary search), what ``torch.multinomial(weights, 1)`` draws, at a fraction of its cost
    on a CPU."""
    cumulative = weights.double().cumsum(1)
    point = torch.rand(len(weights), 1, device=weights.device, dtype=torch.float64)
    index = torch.searchsorted(cumulative, point * cumulative[:, -1:], right=True)[:, 0]
    return index.clamp_max(weights.shape[1] - 1)


OBJECT_CROP_SCALE = (0.3, 0.8)  # a crop around the object keeps it in view
RESIZED_CROP_SCALE = (0.35, 1.0)  # SimCLR's random resized crop, from a third of the area


def crop_scale_for(variant: str, crop_scale: tuple[float, float] | None = None
                   ) -> tuple[float, float]:
    """The views' range of crop areas (shares of the image): ``crop_scale`` when given, else
    the variant's own, :data:`OBJECT_CROP_SCALE` for ``object_crop`` and
    :data:`RESIZED_CROP_SCALE` for every variant that takes a random resized crop."""
    if crop_scale is not None:
        return crop_scale
    return OBJECT_CROP_SCALE if variant == "object_crop" else RESIZED_CROP_SCALE


@one_or_batch
def object_crop(images: torch.Tensor, size: int, scale: tuple[float, float] = OBJECT_CROP_SCALE,
                saliency: torch.Tensor | None = None) -> torch.Tensor:
    """A square crop per image, of a random fraction ``scale`` of its area, centred near the
    saliency peak (drawn with weight saliency^4: the peak, with some randomness), resized to
    ``size``: (B, 3, H, W) -> (B, 3, size, size) float. ``saliency`` (B, H, W), when given,
    saves computing :func:`saliency_map` again for a second view of the same images."""
    batch, _, height, width = images.shape
    saliency = saliency_map(images) if saliency is None else saliency
    centre = _draw_index(saliency.flatten(1) ** 4 + 1e-12)
    cy, cx = (centre // width).float(), (centre % width).float()
    area = torch.empty(batch, device=images.device).uniform_(*scale)
    side = (area.sqrt() * width).round().clamp(2, min(height, width))
    top = (cy - side // 2).clamp(min=0).minimum(height - side)
    left = (cx - side // 2).clamp(min=0).minimum(width - side)
    crops = resize_boxes(images, left, top, side, side, size)
    return crops.round().clamp(0, 255).to(torch.uint8) if images.dtype == torch.uint8 else crops


class ObjectCrop(v2.Transform):
    """:func:`object_crop` as a torchvision transform: where a random resized crop would go."""

    def __init__(self, size: int, scale: tuple[float, float] = OBJECT_CROP_SCALE) -> None:
        super().__init__()
        self.size, self.scale = size, scale

    def forward(self, image: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return object_crop(image, self.size, self.scale)


_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322],
                            [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


@one_or_batch
def rotate_hue(images: torch.Tensor, max_shift: float) -> torch.Tensor:
    """Rotate each image's hue by a random angle in [-max_shift, max_shift] turns
    (torchvision's ``hue`` units), as a rotation of the chroma plane in YIQ space: one 3x3
    matrix per image, a small fraction of the cost of an RGB->HSV->RGB round trip. Luma and
    grays are unchanged. uint8 in, uint8 out; float images stay in [0, 1]."""
    angle = 2 * math.pi * torch.empty(len(images)).uniform_(-max_shift, max_shift)
    cos, sin = torch.cos(angle), torch.sin(angle)
    rotation = torch.zeros(len(images), 3, 3)
    rotation[:, 0, 0] = 1
    rotation[:, 1, 1], rotation[:, 1, 2], rotation[:, 2, 1], rotation[:, 2, 2] = cos, -sin, sin, cos
    matrix = (_YIQ_TO_RGB @ rotation @ _RGB_TO_YIQ).to(images.device)  # (B, 3, 3)
    rotated = (matrix @ images.float().flatten(2)).view(images.shape)
    if images.dtype == torch.uint8:
        return rotated.round().clamp(0, 255).to(torch.uint8)
    return rotated.clamp(0, 1)


class RandomHueRotate(v2.Transform):
    """:func:`rotate_hue` as a torchvision transform."""

    def __init__(self, max_shift: float) -> None:
        super().__init__()
        self.max_shift = max_shift

    def forward(self, image: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return rotate_hue(image, self.max_shift) if self.max_shift else image


SECOND_VIEW_ONLY: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "patch_swap": patch_swap, "jigsaw_shuffle": jigsaw_shuffle,
    "region_confusion": region_confusion}
BOTH_VIEWS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gamma": random_gamma, "coarse_dropout": coarse_dropout}


def check_view_settings(variant: str, jitter: float, hue: float | None) -> float:
    """Validate SimCLR view arguments; return the hue shift (default 0.2·jitter, at most 0.5)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown view variant {variant!r}: choose one of "
                         f"{', '.join(VARIANTS)}")
    if jitter < 0:
        raise ValueError(f"colour-jitter strength must be >= 0, got {jitter}")
    hue = min(0.5, 0.2 * jitter) if hue is None else hue
    if not 0 <= hue <= 0.5:
        raise ValueError(f"hue shift must be in [0, 0.5], got {hue}")
    return hue


def blur_sigma(size: int) -> tuple[float, float] | None:
    """SimCLR's blur sigma range [0.1, 2.0] at 224 px, scaled to ``size``; None below 64 px."""
    return (0.1 * size / 224, 2.0 * size / 224) if size >= 64 else None


def blur_kernel(size: int) -> int:
    """The blur kernel: an odd number of pixels, about 10% of the image side."""
    return max(3, int(0.1 * size) // 2 * 2 + 1)


class SimCLRViews:
    """Two augmented views of one image, made image by image as torchvision pipelines do
    (:class:`~fgssl.gpu_augment.BatchSimCLRViews` makes the same for a whole batch).

    Args:
        size: the views' side in pixels.
        variant: one of :data:`VARIANTS`.
        jitter: SimCLR's colour-jitter strength s (brightness, contrast, saturation 0.8·s).
        hue: the largest hue shift, 0 to 0.5 (default 0.2·s).
        crop_scale: the crops' range of areas (default: the variant's own,
            :func:`crop_scale_for`).

    Returns (when called on a (3, H, W) image):
        ``(view_1, view_2)``, each (3, size, size) float, standardised."""

    def __init__(self, size: int, variant: str = "standard", jitter: float = 0.5,
                 hue: float | None = None, crop_scale: tuple[float, float] | None = None
                 ) -> None:
        hue = check_view_settings(variant, jitter, hue)
        self.size, self.variant = size, variant
        scale = crop_scale_for(variant, crop_scale)
        crop = ObjectCrop(size, scale) if variant == "object_crop" else \
            v2.RandomResizedCrop(size, scale=scale, antialias=True)
        sigma = blur_sigma(size)
        blur = [v2.RandomApply([v2.GaussianBlur(blur_kernel(size), sigma)], p=0.5)] \
            if sigma else []
        colour = [
            v2.RandomHorizontalFlip(),
            v2.RandomApply([v2.ColorJitter(0.8 * jitter, 0.8 * jitter, 0.8 * jitter),
                            *([RandomHueRotate(hue)] if hue else [])], p=0.8),
            v2.RandomGrayscale(p=0.2),
            *blur,
            v2.ToDtype(torch.float32, scale=True),
        ]
        both = [v2.RandomApply([v2.Lambda(BOTH_VIEWS[variant])], p=0.5)] \
            if variant in BOTH_VIEWS else []
        second = [v2.Lambda(SECOND_VIEW_ONLY[variant])] if variant in SECOND_VIEW_ONLY else []
        standardise = v2.Normalize(MEAN, STD)
        self.first = v2.Compose([crop, *colour, *both, standardise])
        self.second = v2.Compose([crop, *colour, *both, *second, standardise])

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.first(image), self.second(image)
