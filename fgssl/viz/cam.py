"""Where does a network look? Grad-CAM, gradient saliency, and the pointing game.

**Grad-CAM** (Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep Networks via
Gradient-based Localization"): for a class score :math:`y^c` and the activations
:math:`A^k` (K maps of h x w) of a convolutional layer,

.. math::  \\alpha_k^c = \\frac{1}{hw} \\sum_{i,j} \\frac{\\partial y^c}{\\partial A^k_{ij}},
           \\qquad L^c = \\mathrm{ReLU}\\Big(\\sum_k \\alpha_k^c A^k\\Big),

upsampled to the image. A self-supervised backbone has no class scores of its own: its
*linear probe* gives them (:meth:`~fgssl.evaluate.probe.LinearProbe.as_layer`), so every
method is explained the same way. **Gradient saliency** (Simonyan et al. 2014) is the
pixel-level cousin: how much a small change of each pixel would change the score.

The input must be what the network saw in training — here the same
:func:`fgssl.transforms.normalise` as training and evaluation; the study we start from
computed its maps with a different normalisation than it trained with (docs/STUDY.md,
bug 12).

**The pointing game** (Zhang et al. 2016, "Top-down Neural Attention by Excitation
Backprop"): a map scores a hit when its peak lies within a tolerance (15 px at 224 px in the
paper) of an annotated point, or inside the object's box; the hit rate of a map that peaked
anywhere at random — the share of the image within reach — is the chance level beside it.

Example::

    >>> maps = grad_cam(backbone, probe.as_layer(), images, labels)   # doctest: +SKIP
    >>> pointing_game(maps, keypoints, tolerance=2.0)["hit_rate"]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fgssl.evaluate.features import frozen
from fgssl.transforms import normalise

PAPER_TOLERANCE = 15 / 224  # the pointing game's tolerance, as a fraction of the image side


def feature_map_layers(backbone: nn.Module, image_size: int) -> dict[str, nn.Module]:
    """The modules whose outputs are feature maps of at least 2 x 2, by name, in the order a
    forward pass computes them — the layers Grad-CAM can explain: whole blocks (modules with
    children) when the network has any, else single layers. Of modules that hand on one and
    the same tensor (a ReLU and the block around it), the outermost is named."""
    names = {module: name for name, module in backbone.named_modules() if module is not backbone}
    produced: dict[int, tuple[str, nn.Module]] = {}  # output tensor -> its outermost module
    alive: list[torch.Tensor] = []  # held, so that no two outputs share an id()

    def record(module: nn.Module, _: object, out: object) -> None:
        if isinstance(out, torch.Tensor) and out.ndim == 4 and min(out.shape[-2:]) >= 2:
            alive.append(out)
            produced.pop(id(out), None)  # re-insert: keeps forward order, outermost wins
            produced[id(out)] = names[module], module

    hooks = [module.register_forward_hook(record) for module in names]
    try:
        with frozen(backbone), torch.no_grad():
            backbone(torch.zeros(2, 3, image_size, image_size))
    finally:
        for hook in hooks:
            hook.remove()
    layers = dict(produced.values())
    blocks = {name: module for name, module in layers.items() if any(module.children())}
    return blocks or layers


def cam_layer(backbone: nn.Module, image_size: int) -> nn.Module:
    """The default Grad-CAM layer: the last feature map of at least 2 x 2 a forward pass
    computes (the last convolutional stage, before pooling)."""
    layers = feature_map_layers(backbone, image_size)
    if not layers:
        raise ValueError(f"{type(backbone).__name__} has no feature map of 2 x 2 or more at "
                         f"{image_size} px to explain")
    return list(layers.values())[-1]


def grad_cam(backbone: nn.Module, head: nn.Module, images: torch.Tensor,
             classes: torch.Tensor, layer: nn.Module | None = None,
             preprocess: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al. 2017): where in each image a network's evidence for a class
    lies — the chosen layer's activations weighted by the class score's mean gradient over
    each channel, summed over channels, ReLU, up-sampled to the image. The backbone runs
    frozen (eval mode) and comes back as it was.

    Args:
        backbone: (B, 3, H, W) float -> (B, D).
        head: features (B, D) -> class scores (B, C).
        images: (B, 3, H, W) uint8.
        classes: (B,) the class whose evidence each map shows.
        layer: the layer whose activations are read (default: :func:`cam_layer`'s).
        preprocess: turns the images into what the network saw in training (default: the
            kit's :func:`~fgssl.transforms.normalise`, as every probed backbone).

    Returns:
        (B, H, W) in [0, 1], each map scaled by its own peak."""
    layer = layer or cam_layer(backbone, images.shape[-1])
    captured: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda m, _, out: captured.append(out))
    try:
        with frozen(backbone), torch.enable_grad():
            inputs = (preprocess or normalise())(images).requires_grad_(True)  # grads flow
            scores = head(backbone(inputs)).gather(1, classes.long()[:, None])  # (B, 1)
            activation = captured[-1]  # (B, K, h, w)
            gradient, = torch.autograd.grad(scores.sum(), activation)
    finally:
        hook.remove()
    weights = gradient.mean((2, 3), keepdim=True)  # alpha_k: (B, K, 1, 1)
    cam = F.relu((weights * activation).sum(1, keepdim=True)).detach()  # (B, 1, h, w)
    cam = F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)
    return _per_image_unit(cam[:, 0])


def gradient_saliency(score: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor
                      ) -> torch.Tensor:
    """Gradient saliency (Simonyan et al. 2014): how much each pixel moves a score,
    |∂ score / ∂ pixel|, the largest over the channels.

    Args:
        score: network inputs (B, 3, H, W) -> one number per image (B,).
        inputs: (B, 3, H, W), as the network takes them.

    Returns:
        (B, H, W), each map scaled to [0, 1]."""
    inputs = inputs.detach().clone().requires_grad_(True)
    score(inputs).sum().backward()
    return _per_image_unit(inputs.grad.abs().amax(dim=1))  # (B, H, W)


def _per_image_unit(maps: torch.Tensor) -> torch.Tensor:
    """(B, H, W) maps divided by their own peaks (all-zero maps stay zero)."""
    return maps / maps.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]


def pointing_game(maps: torch.Tensor | np.ndarray, points: torch.Tensor | np.ndarray,
                  tolerance: float, visible: torch.Tensor | np.ndarray | None = None
                  ) -> dict[str, float]:
    """The pointing game (Zhang et al. 2016): how often each map's peak lies within
    ``tolerance`` pixels of its point, or of any of its visible points.

    Args:
        maps: (B, H, W).
        points: (B, 2) or (B, K, 2) as ``x, y`` in pixels (pixel ``i`` spans ``[i, i + 1)``).
        tolerance: in pixels.
        visible: (B, K) marks the points that count (images with none are left out).

    Returns:
        ``hit_rate``, ``chance`` (the mean share of pixel centres within reach: what a peak at
        a random pixel would score) and ``n``, the images counted."""
    maps, points = torch.as_tensor(maps), torch.as_tensor(points, dtype=torch.float32)
    points = points[:, None] if points.ndim == 2 else points  # (B, K, 2)
    shown = torch.ones(points.shape[:2], dtype=torch.bool) if visible is None else \
        torch.as_tensor(visible).bool()
    xs, ys = _pixel_centres(maps)
    distance2 = (xs - points[..., 0, None, None]) ** 2 + (ys - points[..., 1, None, None]) ** 2
    near = ((distance2 <= tolerance ** 2) & shown[..., None, None]).any(1)  # (B, H, W)
    counted = shown.any(1)
    return _peaks_in_reach(maps[counted], near[counted])


def pointing_game_boxes(maps: torch.Tensor | np.ndarray, boxes: torch.Tensor | np.ndarray
                        ) -> dict[str, float]:
    """The pointing game with object boxes: is the network looking at the object at all?

    Args:
        maps: (B, H, W).
        boxes: (B, 4) ``x0, y0, x1, y1`` in pixels.

    Returns:
        ``hit_rate``, how often a map's peak lies in its box; ``chance``, the mean share of
        pixel centres inside the boxes; ``n``."""
    maps, boxes = torch.as_tensor(maps), torch.as_tensor(boxes, dtype=torch.float32)
    xs, ys = _pixel_centres(maps)
    x0, y0, x1, y1 = (boxes[:, i, None, None] for i in range(4))
    return _peaks_in_reach(maps, (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1))


def _pixel_centres(maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` and ``y`` of every pixel centre of (B, H, W) maps: two (H, W) grids."""
    ys, xs = torch.meshgrid(torch.arange(maps.shape[1]) + 0.5,
                            torch.arange(maps.shape[2]) + 0.5, indexing="ij")
    return xs, ys


def _peaks_in_reach(maps: torch.Tensor, reach: torch.Tensor) -> dict[str, float]:
    """The pointing game's scores of (B, H, W) maps against (B, H, W) masks of where a peak
    counts as a hit."""
    if len(maps) == 0:
        return {"hit_rate": 0.0, "chance": 0.0, "n": 0}
    hits = reach.flatten(1).gather(1, maps.flatten(1).argmax(1)[:, None])[:, 0]
    return {"hit_rate": float(hits.double().mean()), "chance": float(reach.double().mean()),
            "n": len(maps)}
