"""Decode once: a uint8 image cache at a fixed size, memory-mapped from disk.

Decoding JPEGs (or rendering SynthBirds) every epoch is what makes SSL data pipelines slow. The
cache stores a split as one ``(N, S, S, 3)`` uint8 ``.npy`` file plus a ``.json`` sidecar that
holds a *fingerprint* of what was cached (dataset, split, size, and the files or renderer
version behind it). A mismatching fingerprint rebuilds the cache; both files are written to
temporary names and moved into place, the sidecar last, so an interrupted build is never
mistaken for a finished one.

Example::

    >>> import numpy as np, tempfile, pathlib
    >>> stem = pathlib.Path(tempfile.mkdtemp()) / "demo"
    >>> fill = lambda start, stop: np.zeros((stop - start, 8, 8, 3), np.uint8)
    >>> cached_images(stem, {"what": "zeros"}, n=5, size=8, fill=fill).shape
    (5, 8, 8, 3)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from fgssl.files import atomic_write_json, read_json

FillFn = Callable[[int, int], np.ndarray]  # (start, stop) -> (stop - start, S, S, 3) uint8


def fingerprint(key: dict[str, Any]) -> str:
    """A short stable hash of a JSON-able description of the cached content."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def cached_images(stem: str | os.PathLike[str], key: dict[str, Any], n: int, size: int,
                  fill: FillFn, chunk: int = 256, desc: str = "caching") -> np.ndarray:
    """The (n, size, size, 3) uint8 array cached at ``stem.npy``; built with ``fill`` if absent
    or stale. Returns a read-only memory map."""
    stem = Path(stem)
    npy, sidecar = stem.with_suffix(".npy"), stem.with_suffix(".json")
    expected = _sidecar(key, n, size)
    if is_cached(stem, key, n, size):
        return np.load(npy, mmap_mode="r")
    stem.parent.mkdir(parents=True, exist_ok=True)
    sidecar.unlink(missing_ok=True)
    tmp = npy.with_name(f".{npy.name}.{os.getpid()}.tmp")
    try:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, size, size, 3))
        with tqdm(total=n, desc=desc, unit="img", leave=False) as bar:
            for start in range(0, n, chunk):
                stop = min(n, start + chunk)
                array[start:stop] = fill(start, stop)
                bar.update(stop - start)
        array.flush()
        del array
        os.replace(tmp, npy)
    finally:
        tmp.unlink(missing_ok=True)
    atomic_write_json(expected, sidecar)
    return np.load(npy, mmap_mode="r")


def is_cached(stem: str | os.PathLike[str], key: dict[str, Any], n: int, size: int) -> bool:
    """Whether ``stem.npy`` holds a finished cache of ``key`` at that shape."""
    stem = Path(stem)
    npy, sidecar = stem.with_suffix(".npy"), stem.with_suffix(".json")
    return npy.is_file() and read_json(sidecar) == _sidecar(key, n, size)


def _sidecar(key: dict[str, Any], n: int, size: int) -> dict[str, Any]:
    """What a finished cache's ``.json`` sidecar holds, as read back from JSON (tuples in
    ``key`` become lists)."""
    return json.loads(json.dumps(
        {"fingerprint": fingerprint(key), "shape": [n, size, size, 3], "key": key}))


def center_crop_geometry(width: int, height: int, size: int) -> tuple[int, int, int, int]:
    """Where :func:`resize_center_crop` puts a ``width`` x ``height`` image: the resized width
    and height, and the left and top edges of the ``size`` x ``size`` crop."""
    scale = size / min(width, height)
    resized = max(size, round(width * scale)), max(size, round(height * scale))
    return resized[0], resized[1], (resized[0] - size) // 2, (resized[1] - size) // 2


def resize_center_crop(image: Image.Image, size: int) -> np.ndarray:
    """Resize the shorter side to ``size`` (antialiased) and centre-crop: (size, size, 3) uint8."""
    width, height, left, top = center_crop_geometry(image.width, image.height, size)
    image = image.resize((width, height), Image.BICUBIC, reducing_gap=3.0)
    return np.asarray(image.crop((left, top, left + size, top + size)), dtype=np.uint8)


def points_after_crop(points: np.ndarray, width: int, height: int, size: int) -> np.ndarray:
    """Pixel coordinates ``x, y`` (..., 2) in a ``width`` x ``height`` image, moved to where
    :func:`resize_center_crop` puts them in its ``size`` x ``size`` output."""
    resized_width, resized_height, left, top = center_crop_geometry(width, height, size)
    scale = np.array([resized_width / width, resized_height / height])
    return np.asarray(points, dtype=np.float64) * scale - np.array([left, top])


class CachedImages(torch.utils.data.Dataset):
    """A torch dataset over a uint8 cache: item ``i`` is ``(transform(image), label)`` with
    ``image`` a (3, S, S) uint8 tensor. ``images`` (N, S, S, 3) and ``labels`` (N,) are public
    so a GPU pipeline can move the whole split at once."""

    def __init__(self, images: np.ndarray, labels: np.ndarray,
                 transform: Callable[[torch.Tensor], Any] | None = None) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images, self.labels, self.transform = images, np.asarray(labels), transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image = torch.from_numpy(np.array(self.images[index])).permute(2, 0, 1)
        return (self.transform(image) if self.transform else image), int(self.labels[index])
