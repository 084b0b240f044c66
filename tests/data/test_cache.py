import json

import numpy as np
import pytest
import torch

from fgssl.data.cache import CachedImages, cached_images, resize_center_crop
from tests.images import rgb_image


def _counting_fill(calls):
    def fill(start, stop):
        calls.append((start, stop))
        return np.arange(start, stop, dtype=np.uint8)[:, None, None, None] * np.ones(
            (1, 4, 4, 3), np.uint8)
    return fill


def test_cache_builds_once_then_reuses(tmp_path):
    calls = []
    key = {"dataset": "x", "split": "train"}
    first = cached_images(tmp_path / "c", key, n=10, size=4, fill=_counting_fill(calls), chunk=4)
    assert calls == [(0, 4), (4, 8), (8, 10)]
    assert first[7, 0, 0, 0] == 7 and isinstance(first, np.memmap)
    again = cached_images(tmp_path / "c", key, n=10, size=4, fill=_counting_fill(calls))
    assert len(calls) == 3 and np.array_equal(first, again)


def test_cache_rebuilds_when_the_fingerprint_changes(tmp_path):
    calls = []
    cached_images(tmp_path / "c", {"v": 1}, n=3, size=4, fill=_counting_fill(calls))
    cached_images(tmp_path / "c", {"v": 2}, n=3, size=4, fill=_counting_fill(calls))
    assert len(calls) == 2
    assert json.loads((tmp_path / "c.json").read_text())["key"] == {"v": 2}


def test_interrupted_build_leaves_no_cache(tmp_path):
    def failing(start, stop):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cached_images(tmp_path / "c", {"v": 1}, n=3, size=4, fill=failing)
    assert list(tmp_path.iterdir()) == []


def test_resize_center_crop_keeps_the_middle():
    image = rgb_image(0, size=(60, 30))
    out = resize_center_crop(image, 10)
    assert out.shape == (10, 10, 3) and out.dtype == np.uint8


def test_cached_images_dataset(tmp_path):
    images = np.zeros((2, 4, 4, 3), np.uint8)
    images[1] = 200
    data = CachedImages(images, np.array([3, 4]), transform=lambda x: x.float() / 255)
    x, y = data[1]
    assert x.shape == (3, 4, 4) and torch.allclose(x, torch.full_like(x, 200 / 255)) and y == 4
    with pytest.raises(ValueError, match="2 images but 1 labels"):
        CachedImages(images, np.array([1]))
