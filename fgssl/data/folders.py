"""Images on disk: records, safe decoding, class folders and CUB-format folders.

Every real dataset becomes a :class:`Collection`: class names plus, per split, a list of
:class:`Record` (a path relative to the dataset root, a label, optionally a bounding box).
Two generic layouts are read here:

- **class folders**: ``root/<class>/<image>`` (optionally under ``train/``, ``val/``, ``test/``,
  as torchvision's ``ImageFolder`` reads each), beside unlabelled images in ``root/unlabelled/``
  (any depth) or loose in ``root`` itself; or a flat folder of unlabelled images only;
- **CUB format** (Wah et al. 2011): ``images.txt``, ``image_class_labels.txt``,
  ``train_test_split.txt`` (+ ``classes.txt``, ``bounding_boxes.txt``, ``parts/``), used by
  CUB-200-2011, NABirds and the study's cassava split.

Bad input never changes data silently: corrupt, truncated and non-image files are skipped with
one warning that lists them; grayscale, CMYK, palette, RGBA and 16-bit images are converted to
RGB; a malformed, missing or duplicated metadata line, or an empty class folder, is an error
that names the file and line.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps
from tqdm.auto import tqdm

UNLABELLED_FOLDERS = ("unlabelled", "unlabeled")  # sub-folders of images without labels
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")


class DataFormatError(ValueError):
    """The files of a dataset are not laid out as expected (says which file and what to do)."""


class DataWarning(UserWarning):
    """Files were skipped while reading a dataset."""


@dataclass(frozen=True)
class Record:
    """One image: ``path`` relative to the dataset root, ``label`` (-1 when unlabelled) and
    optionally a bounding ``box`` ``(x, y, width, height)`` in pixels, as CUB gives it."""

    path: str
    label: int
    box: tuple[float, float, float, float] | None = None


@dataclass
class Collection:
    """A dataset on disk: its classes and, per split, its records.

    ``splits`` holds what the dataset ships (``train``, ``test``, maybe ``val``, ``all`` for
    labelled images without an official split, ``unlabelled`` for extra images);
    :mod:`fgssl.data.splits` turns it into the fixed train / val / test used everywhere.
    ``trim_bottom`` pixels are cropped off every image (FGVC-Aircraft's copyright banner);
    ``parts`` maps an image path to its (K, 3) part locations ``x, y, visible``;
    ``content`` is the fingerprint of its files (:func:`fgssl.data.identity.content_fingerprint`),
    once the catalog has read them.
    """

    name: str
    root: Path
    classes: list[str]
    splits: dict[str, list[Record]]
    trim_bottom: int = 0
    part_names: list[str] = field(default_factory=list)
    parts: dict[str, np.ndarray] = field(default_factory=dict)
    content: str = ""


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL image to 8-bit RGB: 16-bit and float images are rescaled, transparent
    ones are composited over white, CMYK / palette / grayscale are converted."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        image = Image.fromarray(np.clip(values * (255.0 / peak), 0, 255).astype(np.uint8))
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image if image.mode == "RGB" else image.convert("RGB")


def load_rgb(path: str | os.PathLike[str], trim_bottom: int = 0) -> Image.Image:
    """Decode an image file as RGB, upright (EXIF orientation applied), banner trimmed."""
    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image)
        image.load()
        rgb = to_rgb(image)
    if trim_bottom:
        rgb = rgb.crop((0, 0, rgb.width, max(1, rgb.height - trim_bottom)))
    return rgb


def unreadable(root: Path, records: Iterable[Record]) -> list[str]:
    """Paths of ``records`` that cannot be fully decoded (missing, truncated, not an image)."""
    bad = []
    for record in tqdm(list(records), desc="checking images", unit="img", leave=False):
        try:
            with Image.open(root / record.path) as image:
                image.load()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            bad.append(record.path)
    return bad


def warn_skipped(what: str, paths: list[str]) -> None:
    """One warning that lists every skipped file (the first 20, then a count)."""
    if not paths:
        return
    shown = ", ".join(paths[:20]) + (f", ... and {len(paths) - 20} more" if len(paths) > 20 else "")
    warnings.warn(f"skipped {len(paths)} {what}: {shown}", DataWarning, stacklevel=3)


class ImageRecords(torch.utils.data.Dataset):
    """A torch dataset over image files: item ``i`` is ``(transform(rgb_image), label)``."""

    def __init__(self, collection: Collection, records: list[Record],
                 transform: Callable[[Image.Image], Any] | None = None) -> None:
        self.collection, self.records, self.transform = collection, records, transform

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        record = self.records[index]
        image = load_rgb(self.collection.root / record.path, self.collection.trim_bottom)
        return (self.transform(image) if self.transform else image), record.label


# --- class folders ----------------------------------------------------------------------------
def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def no_images_error(folder: Path) -> DataFormatError:
    """A class folder with no image that can be read: empty, or every file unreadable."""
    return DataFormatError(f"class folder {folder} has no readable images: add images or "
                           "remove the folder")


def _class_folder_records(base: Path, root: Path, classes: list[str]
                          ) -> tuple[list[Record], list[str]]:
    records, ignored = [], []
    for label, name in enumerate(classes):
        folder = base / name
        if not folder.is_dir():
            continue
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        images = [p for p in files if _is_image(p)]
        if not images:
            raise no_images_error(folder)
        records += [Record(p.relative_to(root).as_posix(), label) for p in images]
        ignored += [p.relative_to(root).as_posix() for p in files if not _is_image(p)]
    return records, ignored


def read_image_folder(root: str | os.PathLike[str], name: str = "folder") -> Collection:
    """Read a folder of one's own images: labelled images in ``root/<class>/*`` (split later)
    or in ``root/train/<class>/*`` with ``val/`` and ``test/`` beside it (each optional but
    ``train/``), and unlabelled ones in ``root/unlabelled/`` (or ``unlabeled/``, at any depth)
    and loose in ``root``. A folder of loose images only is unlabelled only."""
    root = Path(root)
    if not root.is_dir():
        raise DataFormatError(f"{root} is not a folder: point --root at a folder of images")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    unlabelled_dirs = [p for p in folders if p.name.lower() in UNLABELLED_FOLDERS]
    split_dirs = [s for s in ("train", "val", "test") if (root / s).is_dir()]
    splits: dict[str, list[Record]] = {}
    ignored: list[str] = []
    if "train" in split_dirs:
        classes = sorted({p.name for s in split_dirs for p in (root / s).iterdir() if p.is_dir()})
        for split in split_dirs:
            splits[split], skipped = _class_folder_records(root / split, root, classes)
            ignored += skipped
    else:
        classes = [p.name for p in folders if p not in unlabelled_dirs]
        if classes:
            splits["all"], ignored = _class_folder_records(root, root, classes)
    loose = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith(
        ("fgssl_", ".")))  # (split files an earlier fgssl wrote beside the data)
    extra = [*loose, *(p for folder in unlabelled_dirs for p in sorted(folder.rglob("*"))
                       if p.is_file())]
    if extra:
        splits["unlabelled"] = [Record(p.relative_to(root).as_posix(), -1) for p in extra
                                if _is_image(p)]
        ignored += [p.relative_to(root).as_posix() for p in extra if not _is_image(p)]
    if not any(splits.values()):
        raise DataFormatError(f"no images found under {root}: expected {root}/<class>/<image> "
                              f"(and unlabelled ones in {root}/unlabelled/)")
    warn_skipped("non-image files", ignored)
    return Collection(name, root, classes, splits)


# --- CUB format ----------------------------------------------------------------------------------
def read_table(path: Path, min_fields: int, max_split: int = -1) -> dict[str, list[str]]:
    """Read a whitespace-separated metadata file into ``{first field: other fields}``.

    Blank lines are ignored; a short line or a repeated id is an error naming file and line.
    """
    if not path.is_file():
        raise DataFormatError(f"missing metadata file {path}: the dataset folder is incomplete")
    table: dict[str, list[str]] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(maxsplit=max_split) if max_split > 0 else line.split()
        if len(fields) < min_fields:
            raise DataFormatError(
                f"{path}:{number}: expected {min_fields} fields, got {line!r}: fix or remove it"
            )
        if fields[0] in table:
            raise DataFormatError(f"{path}:{number}: id {fields[0]} appears twice: remove one")
        table[fields[0]] = fields[1:]
    return table


def _lookup(table: dict[str, list[str]], image_id: str, path: Path) -> list[str]:
    if image_id not in table:
        raise DataFormatError(f"{path}: no line for image id {image_id}: the file is incomplete")
    return table[image_id]


def read_cub_format(root: str | os.PathLike[str], name: str = "cub_format",
                    images_dir: str = "images") -> Collection:
    """Read a CUB-format folder; class ids (any integers) are remapped to 0..C-1 in order."""
    root = Path(root)
    images = read_table(root / "images.txt", 2, max_split=1)
    labels_path, split_path = root / "image_class_labels.txt", root / "train_test_split.txt"
    labels, is_train = read_table(labels_path, 2), read_table(split_path, 2)
    boxes = read_table(root / "bounding_boxes.txt", 5) if (root / "bounding_boxes.txt").is_file() \
        else {}
    names = read_table(root / "classes.txt", 2, max_split=1) if (root / "classes.txt").is_file() \
        else {}
    try:
        class_of = {i: int(_lookup(labels, i, labels_path)[0]) for i in images}
        train_flag = {i: _lookup(is_train, i, split_path)[0] for i in images}
        if set(train_flag.values()) - {"0", "1"}:
            raise ValueError("train flags must be 0 or 1")
        box_of = {i: tuple(float(x) for x in boxes[i][:4]) for i in images if i in boxes}
    except ValueError as error:
        raise DataFormatError(f"{root}: malformed metadata ({error}): fix the files") from None
    class_ids = sorted(set(class_of.values()))
    index_of = {c: k for k, c in enumerate(class_ids)}
    classes = [names.get(str(c), [str(c)])[0] for c in class_ids]
    splits: dict[str, list[Record]] = {"train": [], "test": []}
    for image_id, (relative,) in images.items():
        record = Record(f"{images_dir}/{relative}", index_of[class_of[image_id]],
                        box_of.get(image_id))
        splits["train" if train_flag[image_id] == "1" else "test"].append(record)
    collection = Collection(name, root, classes, splits)
    _read_parts(collection, images, images_dir)
    return collection


def _read_parts(collection: Collection, images: dict[str, list[str]], images_dir: str) -> None:
    """Attach CUB's part annotations (``parts/parts.txt``, ``parts/part_locs.txt``) if present."""
    parts_dir = collection.root / "parts"
    if not (parts_dir / "parts.txt").is_file() or not (parts_dir / "part_locs.txt").is_file():
        return
    part_names = read_table(parts_dir / "parts.txt", 2, max_split=1)
    order = {pid: k for k, pid in enumerate(part_names)}
    locations = {i: np.zeros((len(order), 3), np.float32) for i in images}
    path = parts_dir / "part_locs.txt"
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 5 or fields[0] not in locations or fields[1] not in order:
            raise DataFormatError(f"{path}:{number}: malformed part location {line!r}")
        locations[fields[0]][order[fields[1]]] = [float(x) for x in fields[2:]]
    collection.part_names = [v[0] for v in part_names.values()]
    collection.parts = {f"{images_dir}/{images[i][0]}": loc for i, loc in locations.items()}
