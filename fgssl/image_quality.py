"""Image quality for super-resolution: PSNR and SSIM on the luminance channel.

Super-resolution papers (SRGAN, Ledig et al. 2017, among them) report both on the
Y channel of YCbCr, with ``scale`` pixels shaved off each border, where the bicubic
up-sampling has no neighbours to use. Images are (B, 3, H, W) floats in [0, 1].

- PSNR = 10 log10(1 / MSE): every pixel error counts alike; a blurry average scores well.
- SSIM (Wang et al. 2004) compares local means, contrasts and structure in an 11x11 Gaussian
  window (sigma 1.5), K1 = 0.01, K2 = 0.03: closer to what the eye notices.

Example::

    >>> target = torch.rand(2, 3, 32, 32)
    >>> psnr(target.clamp(0, 0.9), target).shape
    torch.Size([2])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_TO_Y = (65.481, 128.553, 24.966)  # ITU-R BT.601, as MATLAB's rgb2ycbcr (Y in [16, 235])


def luminance(images: torch.Tensor) -> torch.Tensor:
    """Y of YCbCr (ITU-R BT.601), where super-resolution papers measure PSNR and SSIM.

    Args:
        images: (B, 3, H, W) RGB in [0, 1].

    Returns:
        (B, 1, H, W) in [16/255, 235/255]."""
    weights = torch.tensor(_TO_Y, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (16.0 + (images * weights).sum(1, keepdim=True)) / 255.0


def _shave(images: torch.Tensor, border: int) -> torch.Tensor:
    return images[..., border:images.shape[-2] - border, border:images.shape[-1] - border]


def psnr(prediction: torch.Tensor, target: torch.Tensor, border: int = 0) -> torch.Tensor:
    """Peak signal-to-noise ratio on luminance, per image.

    Args:
        prediction: (B, 3, H, W) in [0, 1].
        target: (B, 3, H, W) in [0, 1].
        border: pixels shaved off each side first (papers shave the scale factor).

    Returns:
        (B,) in dB."""
    error = _shave(luminance(prediction) - luminance(target), border)
    mse = error.pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return 10.0 * torch.log10(1.0 / mse)


def _gaussian_window(size: int, sigma: float, like: torch.Tensor) -> torch.Tensor:
    coords = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    line = torch.exp(-coords.pow(2) / (2 * sigma**2))
    line = line / line.sum()
    return (line[:, None] * line[None, :]).view(1, 1, size, size)


def ssim(prediction: torch.Tensor, target: torch.Tensor, border: int = 0,
         window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean structural similarity (Wang et al. 2004) on luminance, per image. Windows lie
    wholly inside the (shaved) image, so it must be at least ``window`` pixels a side.

    Args:
        prediction: (B, 3, H, W) in [0, 1].
        target: (B, 3, H, W) in [0, 1].
        border: pixels shaved off each side first.
        window: the Gaussian window's side.
        sigma: its standard deviation.

    Returns:
        (B,), at most 1."""
    x = _shave(luminance(prediction), border)
    y = _shave(luminance(target), border)
    if min(x.shape[-2:]) < window:
        raise ValueError(f"SSIM needs images of at least {window} px after shaving "
                         f"{border} px, got {tuple(x.shape[-2:])}")
    kernel = _gaussian_window(window, sigma, x)
    c1, c2 = 0.01**2, 0.03**2  # (K * data range)^2, data range 1

    def blur(images: torch.Tensor) -> torch.Tensor:
        return F.conv2d(images, kernel)

    mean_x, mean_y = blur(x), blur(y)
    var_x = blur(x * x) - mean_x**2
    var_y = blur(y * y) - mean_y**2
    cov = blur(x * y) - mean_x * mean_y
    index = ((2 * mean_x * mean_y + c1) * (2 * cov + c2)) / \
        ((mean_x**2 + mean_y**2 + c1) * (var_x + var_y + c2))
    return index.flatten(1).mean(1)
