"""Small image files of every awkward kind, for the loader tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def rgb_image(seed: int = 0, size: tuple[int, int] = (24, 16)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def write_jpeg(path: Path, seed: int = 0, size: tuple[int, int] = (24, 16)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb_image(seed, size).save(path, "JPEG")
    return path


def write_odd_images(folder: Path) -> dict[str, Path]:
    """One file per awkward kind; returns name -> path. Readable ones convert to RGB."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    base = rgb_image(1)
    paths["gray"] = folder / "gray.png"
    base.convert("L").save(paths["gray"])
    paths["cmyk"] = folder / "cmyk.jpg"
    base.convert("CMYK").save(paths["cmyk"], "JPEG")
    paths["rgba"] = folder / "rgba.png"
    rgba = base.convert("RGBA")
    rgba.putalpha(0)  # fully transparent: composited over white
    rgba.save(paths["rgba"])
    paths["palette"] = folder / "palette.png"
    palette = base.convert("P", palette=Image.ADAPTIVE, colors=8)
    palette.info["transparency"] = 0
    palette.save(paths["palette"], transparency=0)
    paths["16bit"] = folder / "sixteen.png"
    Image.fromarray(np.full((16, 24), 65535, dtype=np.uint16)).save(paths["16bit"])
    return paths


def write_broken_images(folder: Path) -> dict[str, Path]:
    """Files that cannot be decoded: truncated JPEG, random bytes, an empty file."""
    folder.mkdir(parents=True, exist_ok=True)
    full = write_jpeg(folder / "full.jpg", seed=5, size=(64, 64)).read_bytes()
    (folder / "full.jpg").unlink()
    paths = {"truncated": folder / "truncated.jpg", "corrupt": folder / "corrupt.jpg",
             "empty": folder / "empty.png"}
    paths["truncated"].write_bytes(full[: len(full) // 2])
    paths["corrupt"].write_bytes(b"\x89PNG but not really" * 10)
    paths["empty"].write_bytes(b"")
    return paths
