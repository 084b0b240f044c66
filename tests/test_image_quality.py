import math

import numpy as np
import pytest
import torch

from fgssl.image_quality import luminance, psnr, ssim


def test_luminance_follows_bt601():
    white, black = torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    assert luminance(white)[0, 0, 0, 0].item() == pytest.approx(235 / 255, abs=1e-3)
    assert luminance(black)[0, 0, 0, 0].item() == pytest.approx(16 / 255)
    red = torch.zeros(1, 3, 1, 1)
    red[:, 0] = 1
    assert luminance(red).item() == pytest.approx((16 + 65.481) / 255)


def test_psnr_of_a_known_error():
    target = torch.full((2, 3, 8, 8), 0.5)
    # a gray offset d changes Y by d * (65.481 + 128.553 + 24.966) / 255 = d * 219 / 255
    offset = 0.1
    error_y = offset * 219 / 255
    expected = 10 * math.log10(1 / error_y**2)
    assert psnr(target + offset, target).tolist() == pytest.approx([expected] * 2, rel=1e-5)
    assert psnr(target, target)[0] > 90  # identical: capped, not infinite


def test_psnr_shaves_the_border():
    target = torch.zeros(1, 3, 10, 10)
    prediction = target.clone()
    prediction[..., 0, :] = 1.0  # wrong only in the first row
    assert psnr(prediction, target, border=1)[0] > 90
    assert psnr(prediction, target, border=0)[0] < 40


def _ssim_by_loops(x: np.ndarray, y: np.ndarray, size: int = 11, sigma: float = 1.5) -> float:
    """Wang et al. 2004, one window at a time (float64), Gaussian weights."""
    coords = np.arange(size) - (size - 1) / 2
    line = np.exp(-coords**2 / (2 * sigma**2))
    weights = np.outer(line, line) / np.outer(line, line).sum()
    c1, c2 = 0.01**2, 0.03**2
    values = []
    for i in range(x.shape[0] - size + 1):
        for j in range(x.shape[1] - size + 1):
            a, b = x[i:i + size, j:j + size], y[i:i + size, j:j + size]
            mu_a, mu_b = (weights * a).sum(), (weights * b).sum()
            var_a = (weights * (a - mu_a) ** 2).sum()
            var_b = (weights * (b - mu_b) ** 2).sum()
            cov = (weights * (a - mu_a) * (b - mu_b)).sum()
            values.append((2 * mu_a * mu_b + c1) * (2 * cov + c2)
                          / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)))
    return float(np.mean(values))


def test_ssim_matches_the_formula_window_by_window():
    torch.manual_seed(0)
    target = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    prediction = (target + 0.1 * torch.randn_like(target)).clamp(0, 1)
    ours = ssim(prediction, target, border=1)
    for b in range(2):
        x = luminance(prediction)[b, 0, 1:-1, 1:-1].numpy()
        y = luminance(target)[b, 0, 1:-1, 1:-1].numpy()
        assert ours[b].item() == pytest.approx(_ssim_by_loops(x, y), abs=1e-6)
    assert ssim(target, target).tolist() == pytest.approx([1.0, 1.0])


def test_ssim_refuses_images_smaller_than_its_window():
    with pytest.raises(ValueError, match="at least 11 px"):
        ssim(torch.rand(1, 3, 12, 12), torch.rand(1, 3, 12, 12), border=1)
