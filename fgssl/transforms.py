"""SimCLR views on the CPU (torchvision v2), and the study's fine-grained variants.

The standard recipe (Chen et al. 2020, appendix A): random resized crop, horizontal flip,
colour jitter (brightness, contrast, saturation 0.8·s, applied with p = 0.8), random grayscale
(p = 0.2) and Gaussian blur (p = 0.5, sigma in [0.1, 2.0] at 224 px, scaled with the image
size; below 64 px it would move less than half a pixel and is left out, as SimCLR's CIFAR
setting does). SimCLR also shifts hue by up to 0.2·s (the default here too). A hue shift turns
a red beak orange, so it can erase species that differ only in a part's colour; but without it
the body colour of each bird becomes an easy shortcut for telling instances apart (on
SynthBirds, ``cpu`` profile, one seed: 15.0% linear probe with hue 0.1 against 12.1% with
none) — augmentations define what a representation learns to ignore.

Fine-grained variants (Al Breiki et al. 2021, after DCL, Chen et al. 2019), selected by name:

- ``gamma``: random gamma in [0.5, 2.5] on both views (p = 0.5);
- ``coarse_dropout``: 5-20 holes, each 4.5-11% of the image side, on both views (p = 0.5);
- ``patch_swap``: two random squares (1/4 of the side) swap places in the second view;
- ``jigsaw_shuffle``: the second view cut in 4x4 tiles and shuffled;
- ``region_confusion``: DCL's shuffle of a 7x7 grid in which a tile moves at most 2 places;
- ``object_crop``: both crops taken around the most salient region (spectral residual,
  Hou & Zhang 2007), found without labels.

All take and return (3, H, W) tensors; :class:`SimCLRViews` returns two float views.

Example::

    >>> views = SimCLRViews(32, variant="jigsaw_shuffle")
    >>> a, b = views(torch.zeros(3, 32, 32, dtype=torch.uint8))
    >>> a.shape, b.dtype
    (torch.Size([3, 32, 32]), torch.float32)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torchvision.transforms import v2

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
VARIANTS = ("standard", "gamma", "coarse_dropout", "patch_swap", "jigsaw_shuffle",
            "region_confusion", "object_crop")


def normalise() -> v2.Transform:
    """uint8 or float image -> float32 in [0, 1], then standardised with ImageNet statistics."""
    return v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)])


def random_gamma(image: torch.Tensor, low: float = 0.5, high: float = 2.5) -> torch.Tensor:
    """``image ** gamma`` on a [0, 1] float image, gamma uniform in [low, high]."""
    gamma = torch.empty(()).uniform_(low, high)
    return image.clamp(0, 1) ** gamma


def coarse_dropout(image: torch.Tensor, holes: tuple[int, int] = (5, 20),
                   hole_fraction: tuple[float, float] = (0.045, 0.11)) -> torch.Tensor:
    """Zero out a random number of square holes, each a random fraction of the image side."""
    out = image.clone()
    _, height, width = image.shape
    for _ in range(int(torch.randint(holes[0], holes[1] + 1, ()))):
        side = max(1, round(float(torch.empty(()).uniform_(*hole_fraction)) * width))
        top = int(torch.randint(0, max(1, height - side + 1), ()))
        left = int(torch.randint(0, max(1, width - side + 1), ()))
        out[:, top:top + side, left:left + side] = 0
    return out


def patch_swap(image: torch.Tensor, fraction: float = 0.25) -> torch.Tensor:
    """Swap two random squares of side ``fraction`` x the image side (they may overlap)."""
    out = image.clone()
    _, height, width = image.shape
    side = max(1, int(fraction * min(height, width)))
    (t1, t2), (l1, l2) = (torch.randint(0, n - side + 1, (2,)).tolist() for n in (height, width))
    first = image[:, t1:t1 + side, l1:l1 + side].clone()
    out[:, t1:t1 + side, l1:l1 + side] = image[:, t2:t2 + side, l2:l2 + side]
    out[:, t2:t2 + side, l2:l2 + side] = first
    return out


def _shuffle_tiles(image: torch.Tensor, grid: int, rows: torch.Tensor, cols: torch.Tensor
                   ) -> torch.Tensor:
    """Rearrange a grid x grid tiling: tile (i, j) of the output is tile (rows[i, j],
    cols[i, j]) of the input. Integer tile sizes; leftover border pixels stay in place."""
    _, height, width = image.shape
    th, tw = height // grid, width // grid
    out = image.clone()
    for i in range(grid):
        for j in range(grid):
            si, sj = int(rows[i, j]), int(cols[i, j])
            out[:, i * th:(i + 1) * th, j * tw:(j + 1) * tw] = \
                image[:, si * th:(si + 1) * th, sj * tw:(sj + 1) * tw]
    return out


def jigsaw_shuffle(image: torch.Tensor, grid: int = 4) -> torch.Tensor:
    """Cut into grid x grid tiles and put them back in a random order."""
    order = torch.randperm(grid * grid).reshape(grid, grid)
    return _shuffle_tiles(image, grid, order // grid, order % grid)


def region_confusion(image: torch.Tensor, grid: int = 7, reach: int = 2) -> torch.Tensor:
    """DCL's region confusion: in each row, tile j moves to the rank of ``j + r``, r uniform in
    [-reach, reach]; then the same along each column. No tile moves more than ``reach``
    places per axis, so local structure survives while global layout is confused."""
    index = torch.arange(grid, dtype=torch.float32)
    rows = torch.arange(grid).repeat(grid, 1).T.clone()
    cols = torch.arange(grid).repeat(grid, 1)
    for i in range(grid):  # shuffle within each row
        cols[i] = cols[i][torch.argsort(index + torch.empty(grid).uniform_(-reach, reach))]
    for j in range(grid):  # then within each column
        order = torch.argsort(index + torch.empty(grid).uniform_(-reach, reach))
        rows[:, j], cols[:, j] = rows[order, j], cols[order, j]
    return _shuffle_tiles(image, grid, rows, cols)


def saliency_map(image: torch.Tensor) -> torch.Tensor:
    """Spectral-residual saliency (Hou & Zhang 2007) of a (3, H, W) image: (H, W) in [0, 1]."""
    gray = image.float().mean(0)
    spectrum = torch.fft.fft2(gray)
    log_amplitude = torch.log(spectrum.abs() + 1e-8)
    smoothed = torch.nn.functional.avg_pool2d(log_amplitude[None, None], 3, 1, 1,
                                              count_include_pad=False)[0, 0]
    residual = torch.exp(log_amplitude - smoothed) * torch.exp(1j * torch.angle(spectrum))
    saliency = torch.fft.ifft2(residual).abs() ** 2
    saliency = v2.functional.gaussian_blur(saliency[None], [5, 5], [1.5, 1.5])[0]
    return saliency / saliency.max().clamp_min(1e-12)


class ObjectCrop(v2.Transform):
    """A random resized crop whose centre is near the saliency peak (not the image centre)."""

    def __init__(self, size: int, scale: tuple[float, float] = (0.3, 0.8)) -> None:
        super().__init__()
        self.size, self.scale = size, scale

    def forward(self, image: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        _, height, width = image.shape
        saliency = saliency_map(image)
        weights = saliency.flatten() ** 4  # concentrate on the peak, keep some randomness
        centre = int(torch.multinomial(weights / weights.sum(), 1))
        cy, cx = divmod(centre, width)
        side = max(2, round(math.sqrt(float(torch.empty(()).uniform_(*self.scale))) * width))
        top = min(max(0, cy - side // 2), height - side)
        left = min(max(0, cx - side // 2), width - side)
        return v2.functional.resized_crop(image, top, left, side, side, [self.size, self.size],
                                          antialias=True)


_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322],
                            [0.211, -0.523, 0.312]])


class RandomHueRotate(v2.Transform):
    """Rotate hue by a random angle in [-max_shift, max_shift] turns (torchvision's ``hue``
    units), as a rotation of the chroma plane in YIQ space: one 3x3 matrix per image, so it
    costs a small fraction of an RGB->HSV->RGB round trip. Luma and grays are unchanged."""

    def __init__(self, max_shift: float) -> None:
        super().__init__()
        self.max_shift = max_shift

    def forward(self, image: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if self.max_shift == 0:
            return image
        angle = 2 * math.pi * float(torch.empty(()).uniform_(-self.max_shift, self.max_shift))
        cos, sin = math.cos(angle), math.sin(angle)
        rotation = torch.tensor([[1.0, 0.0, 0.0], [0.0, cos, -sin], [0.0, sin, cos]])
        matrix = torch.linalg.inv(_RGB_TO_YIQ) @ rotation @ _RGB_TO_YIQ
        pixels = image.float().reshape(3, -1)
        rotated = (matrix @ pixels).reshape(image.shape)
        if image.dtype == torch.uint8:
            return rotated.round().clamp(0, 255).to(torch.uint8)
        return rotated.clamp(0, 1)


def _maybe(fn: Callable[[torch.Tensor], torch.Tensor], p: float) -> v2.Transform:
    return v2.RandomApply([v2.Lambda(fn)], p=p)


class SimCLRViews:
    """Two augmented views of one image: ``(view_1, view_2)``, each (3, size, size) float.

    ``jitter`` is SimCLR's colour-jitter strength s, ``hue`` the largest hue shift (0 to 0.5;
    default 0.2·s); ``variant`` one of :data:`VARIANTS`.
    """

    def __init__(self, size: int, variant: str = "standard", jitter: float = 0.5,
                 hue: float | None = None, crop_scale: tuple[float, float] = (0.35, 1.0)
                 ) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown view variant {variant!r}: choose one of "
                             f"{', '.join(VARIANTS)}")
        if jitter < 0:
            raise ValueError(f"colour-jitter strength must be >= 0, got {jitter}")
        hue = min(0.5, 0.2 * jitter) if hue is None else hue
        if not 0 <= hue <= 0.5:
            raise ValueError(f"hue shift must be in [0, 0.5], got {hue}")
        self.size, self.variant = size, variant
        crop = ObjectCrop(size) if variant == "object_crop" else \
            v2.RandomResizedCrop(size, scale=crop_scale, antialias=True)
        sigma = (0.1 * size / 224, 2.0 * size / 224)
        blur = [v2.RandomApply([v2.GaussianBlur(max(3, int(0.1 * size) // 2 * 2 + 1), sigma)],
                               p=0.5)] if size >= 64 else []
        colour = [
            v2.RandomHorizontalFlip(),
            v2.RandomApply([v2.ColorJitter(0.8 * jitter, 0.8 * jitter, 0.8 * jitter),
                            *([RandomHueRotate(hue)] if hue else [])], p=0.8),
            v2.RandomGrayscale(p=0.2),
            *blur,
            v2.ToDtype(torch.float32, scale=True),
        ]
        both = {"gamma": [_maybe(random_gamma, 0.5)],
                "coarse_dropout": [_maybe(coarse_dropout, 0.5)]}.get(variant, [])
        second = {"patch_swap": [v2.Lambda(patch_swap)],
                  "jigsaw_shuffle": [v2.Lambda(jigsaw_shuffle)],
                  "region_confusion": [v2.Lambda(region_confusion)]}.get(variant, [])
        standardise = v2.Normalize(MEAN, STD)
        self.first = v2.Compose([crop, *colour, *both, standardise])
        self.second = v2.Compose([crop, *colour, *both, *second, standardise])

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.first(image), self.second(image)
