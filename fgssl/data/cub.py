"""CUB-200-2011 (Wah et al. 2011): download, verify, extract safely, read with boxes and parts.

200 bird species, 11,788 images: 5,994 train / 5,794 test (``train_test_split.txt``, 1 =
train), labels 1-based in ``image_class_labels.txt`` (mapped to 0..199), a bounding box
``x y width height`` per image and 15 part locations (``parts/part_locs.txt``:
``image part x y visible``). 43 of its images also appear in ImageNet, which matters when a
backbone was pretrained there.
"""

from __future__ import annotations

from pathlib import Path

from fgssl.data.download import download, safe_extract
from fgssl.data.folders import Collection, read_cub_format

URL = "https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz"
MD5 = "97eceeb196236b17998738112f37df78"
ARCHIVE = "CUB_200_2011.tgz"
FOLDER = "CUB_200_2011"


def fetch(folder: Path, url: str = URL, md5: str = MD5) -> None:
    """Download (1.1 GB, resumable, md5-checked) and extract CUB into ``folder``."""
    if (folder / FOLDER / "images.txt").is_file():
        return
    archive = download(url, folder / ARCHIVE, md5=md5)
    safe_extract(archive, folder)
    archive.unlink()


def read(folder: Path) -> Collection:
    """Read an extracted CUB from ``folder`` (which holds ``CUB_200_2011/``)."""
    return read_cub_format(folder / FOLDER, name="cub200")
