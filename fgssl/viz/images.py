"""Image grids with labels, boxes and part keypoints: the one set of gallery helpers.

All functions return a matplotlib ``Figure`` (nothing is shown or saved implicitly), so the
notebooks display them and the command line saves them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from fgssl.data.synthbirds import KEYPOINT_NAMES, NUM_CLASSES, SynthBirds, describe
from fgssl.gpu_augment import BatchSimCLRViews
from fgssl.transforms import MEAN, STD, SimCLRViews

_KEYPOINT_COLOURS = plt.get_cmap("tab10")


def as_hwc_uint8(images: np.ndarray | torch.Tensor) -> np.ndarray:
    """Images as (N, H, W, 3) uint8, from (N, 3, H, W) or (N, H, W, 3), uint8 or float in [0, 1]."""
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    array = np.asarray(images)
    if array.ndim == 4 and array.shape[1] == 3 and array.shape[-1] != 3:
        array = array.transpose(0, 2, 3, 1)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    return array


def show_images(images: np.ndarray | torch.Tensor, titles: Sequence[str] | None = None,
                ncols: int = 8, boxes: np.ndarray | None = None,
                keypoints: np.ndarray | None = None, keypoint_names: Sequence[str] = (),
                cell_inches: float = 1.6) -> Figure:
    """A grid of images, optionally with titles, boxes and keypoints drawn over them (with a
    legend naming the parts).

    Args:
        images: (N, 3, H, W) or (N, H, W, 3), uint8 or float in [0, 1].
        titles: one per image.
        ncols: images per row.
        boxes: (N, 4) ``x0, y0, x1, y1`` in pixels.
        keypoints: (N, K, 2) ``x, y`` in pixels.
        keypoint_names: the K parts' names, for the legend.
        cell_inches: each image's side.

    Returns:
        The figure."""
    images = as_hwc_uint8(images)
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * cell_inches, nrows * cell_inches),
                             squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k >= n:
            continue
        ax.imshow(images[k], interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[k], fontsize=8)
        if boxes is not None:
            x0, y0, x1, y1 = boxes[k]
            ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                                   edgecolor="white", linewidth=1))
        if keypoints is not None:
            for j, (x, y) in enumerate(keypoints[k]):
                ax.plot(x - 0.5, y - 0.5, "o", markersize=4, color=_KEYPOINT_COLOURS(j),
                        markeredgecolor="black", markeredgewidth=0.5,
                        label=keypoint_names[j] if k == 0 and keypoint_names else None)
    if keypoints is not None and keypoint_names:
        fig.legend(loc="lower center", ncol=len(keypoint_names), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05 if keypoints is not None and keypoint_names else 0, 1, 1))
    return fig


def sample_photo(size: int = 96) -> torch.Tensor | None:
    """A real photograph: the portrait of Grace Hopper that matplotlib ships as sample data,
    its centre square resized.

    Args:
        size: the side in pixels.

    Returns:
        (3, size, size) uint8; ``None`` if this matplotlib was installed without its sample
        data."""
    from matplotlib import cbook
    from PIL import Image

    try:
        path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        with Image.open(path) as photo:
            side = min(photo.size)
            left, top = (photo.width - side) // 2, (photo.height - side) // 2
            square = photo.convert("RGB").crop((left, top, left + side, top + side))
            resized = square.resize((size, size), Image.Resampling.BICUBIC)
    except (OSError, ValueError):
        return None
    return torch.from_numpy(np.asarray(resized).copy()).permute(2, 0, 1)


def synthbirds_siblings(size: int = 32, pairs: Sequence[int] = range(6), seed: int = 0,
                        annotate: bool = False) -> Figure:
    """Sibling species side by side: one row per pair, two images of each sibling. Species
    ``2p`` and ``2p + 1`` differ in a single part (:func:`~fgssl.data.synthbirds.describe`);
    if the difference is visible at ``size`` pixels, a model can learn it.

    Args:
        size: the images' side in pixels.
        pairs: which pairs p.
        seed: the renderer's seed.
        annotate: mark the parts.

    Returns:
        The figure."""
    birds = SynthBirds(seed)
    indices = [label + NUM_CLASSES * repeat for p in pairs for label in (2 * p, 2 * p + 1)
               for repeat in range(2)]
    batch = birds.render("test", indices, size)
    titles = [describe(int(y)).split(":")[0] for y in batch.labels]
    return show_images(batch.images, titles, ncols=4,
                       boxes=batch.boxes if annotate else None,
                       keypoints=batch.keypoints if annotate else None,
                       keypoint_names=KEYPOINT_NAMES if annotate else ())


def augmentation_gallery(image: torch.Tensor, augmentations: dict[str, Callable[..., object]],
                         samples: int = 4) -> Figure:
    """One row per named augmentation: the image, then draws of it. An augmentation returning a
    pair of views (like :class:`~fgssl.transforms.SimCLRViews`) is shown by its second view,
    the one fine-grained variants change; standardised outputs are mapped back to [0, 1].

    Args:
        image: (3, H, W) uint8.
        augmentations: name -> a function of the image.
        samples: draws per augmentation.

    Returns:
        The figure."""
    rows, titles = [], []
    for name, augment in augmentations.items():
        views = []
        for _ in range(samples):
            view = augment(image)
            view = view[1] if isinstance(view, tuple) else view
            views.append(_for_display(view))
        rows += [_for_display(image), *views]
        titles += [name, *[""] * samples]
    return show_images(torch.stack(rows), titles, ncols=samples + 1)


def views_grid(image: torch.Tensor, variant: str = "standard", jitter: float = 0.5,
               crop_min: float = 0.35, pairs: int = 4, size: int | None = None, seed: int = 0
               ) -> Figure:
    """``pairs`` pairs of SimCLR views (:class:`~fgssl.transforms.SimCLRViews`) of one
    (3, H, W) uint8 image, side by side, under the given variant, jitter strength and
    smallest crop (a share of the area); the image itself first."""
    views = SimCLRViews(size or int(image.shape[-1]), variant, jitter,
                        crop_scale=(crop_min, 1.0))
    torch.manual_seed(seed)
    shown, titles = [_for_display(image)], ["image"]
    for k in range(pairs):
        first, second = views(image)
        shown += [_for_display(first), _for_display(second)]
        titles += [f"pair {k + 1}: view 1", "view 2"]
    figure = show_images(torch.stack([torch.nn.functional.interpolate(
        view[None], size=shown[1].shape[-2:], mode="nearest")[0] for view in shown]), titles,
        ncols=2 * pairs + 1)
    figure.suptitle(f"{variant}, jitter {jitter:g}, crops from {crop_min:.0%} of the area",
                    fontsize=9)
    return figure


def batch_views_grid(images: torch.Tensor, variant: str = "standard", seed: int = 0
                     ) -> Figure:
    """Each image of a batch above its two SimCLR views, all made by one call of
    :class:`~fgssl.gpu_augment.BatchSimCLRViews` on the batch's device: every image still gets
    its own crop, flip and colours.

    Args:
        images: (B, 3, H, W) uint8, on any device.
        variant: the view variant.
        seed: seeds the views.

    Returns:
        The figure."""
    torch.manual_seed(seed)
    views = BatchSimCLRViews(int(images.shape[-1]), variant).to(images.device)(images)
    shown = [_for_display(image) for image in images.cpu()]
    shown += [_for_display(view) for batch in views for view in batch.float().cpu()]
    count = len(images)
    titles = [f"image {k + 1}" for k in range(count)] + ["view 1"] * count + ["view 2"] * count
    return show_images(torch.stack(shown), titles, ncols=count)


def _for_display(view: torch.Tensor) -> torch.Tensor:
    """(3, H, W) uint8, [0, 1] float or ImageNet-normalised float -> [0, 1] float."""
    if view.dtype == torch.uint8:
        return view.float() / 255
    if view.min() < -0.01 or view.max() > 1.01:  # standardised: undo the normalisation
        mean, std = torch.tensor(MEAN)[:, None, None], torch.tensor(STD)[:, None, None]
        view = view * std + mean
    return view.clamp(0, 1)


def sr_comparison(outputs: dict[str, torch.Tensor], count: int = 4) -> Figure:
    """Super-resolution side by side: one row per image, columns LR (drawn at the HR size,
    pixels visible), bicubic, SR and HR, the two up-scalings titled with their PSNR (dB, on
    luminance).

    Args:
        outputs: (B, 3, h, w) images in [0, 1] under ``"lr"``, ``"bicubic"``, ``"sr"`` and
            ``"hr"`` (as :meth:`fgssl.methods.srgan.SRGAN.super_resolve` returns them).
        count: how many images.

    Returns:
        The figure."""
    from fgssl.image_quality import psnr

    high = outputs["hr"][:count]
    scale = high.shape[-1] // outputs["lr"].shape[-1]
    columns = {"LR": outputs["lr"][:count].repeat_interleave(scale, -1)
               .repeat_interleave(scale, -2), "bicubic": outputs["bicubic"][:count],
               "SR": outputs["sr"][:count], "HR": high}
    scores = {name: psnr(columns[name], high, scale) for name in ("bicubic", "SR")}
    images, titles = [], []
    for row in range(len(high)):
        for name, column in columns.items():
            images.append(column[row])
            titles.append(f"{name} {scores[name][row]:.1f} dB" if name in scores else name)
    return show_images(torch.stack(images), titles, ncols=len(columns), cell_inches=2.0)


def heatmaps(images: np.ndarray | torch.Tensor, maps: np.ndarray | torch.Tensor,
             titles: Sequence[str] | None = None, keypoints: np.ndarray | None = None,
             ncols: int = 6) -> Figure:
    """Each image with a map drawn over it (where a network looks), and optionally its parts.

    Args:
        images: (N, 3, H, W) or (N, H, W, 3), uint8 or float in [0, 1].
        maps: (N, H, W) in [0, 1].
        titles: one per image.
        keypoints: (N, K, 2) ``x, y`` in pixels.
        ncols: images per row.

    Returns:
        The figure."""
    fig = show_images(images, titles, ncols=ncols, cell_inches=2.0)
    maps = maps.detach().cpu().numpy() if isinstance(maps, torch.Tensor) else np.asarray(maps)
    for k, ax in enumerate(fig.axes[:len(maps)]):
        ax.imshow(maps[k], cmap="inferno", alpha=0.55, interpolation="bilinear")
        if keypoints is not None:
            ax.plot(keypoints[k, :, 0] - 0.5, keypoints[k, :, 1] - 0.5, "o", markersize=3,
                    color="cyan", markeredgecolor="black", markeredgewidth=0.5)
    return fig
