"""The dataset catalog: a name gives facts, a preparer and torch datasets.

Names: ``synthbirds`` (embedded, rendered), ``cub200``, ``flowers102``, ``fgvc_aircraft``,
``stanford_cars``, ``stanford_dogs``, ``nabirds``, ``cassava``, and two generic layouts whose
folder you name with ``root``: ``folder`` (class sub-folders beside unlabelled images, or
unlabelled images only) and ``cub_format`` (CUB's three metadata files, as the study stored
cassava). A dataset read from disk is known by its :class:`~fgssl.data.identity.DatasetIdentity`
(:func:`identity`, :func:`data_key`): runs of two folders are never mixed up.

Example::

    >>> from fgssl.data import catalog
    >>> train = catalog.dataset("synthbirds", "train", profile="ci")   # doctest: +SKIP
    >>> image, label = train[0]          # (3, 32, 32) uint8 tensor, int
"""

# Over 300 lines: every dataset the kit knows, looked up by name, and the one way each is read.

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from fgssl.config import Profile, data_root
from fgssl.config import profile as get_profile
from fgssl.data import cub, sources
from fgssl.data.cache import (
    CachedImages,
    cached_images,
    points_after_crop,
    resize_center_crop,
)
from fgssl.data.folders import (
    Collection,
    DataFormatError,
    ImageRecords,
    Record,
    load_rgb,
    no_images_error,
    read_cub_format,
    read_image_folder,
    unreadable,
    warn_skipped,
)
from fgssl.data.identity import (
    HASHES_FILE,
    DatasetIdentity,
    content_fingerprint,
    location_key,
    path_digest,
)
from fgssl.data.splits import finalise
from fgssl.data.synthbirds import (
    NUM_CLASSES,
    RENDERER_VERSION,
    SIBLING_PAIRS,
    SPECIES_NAMES,
    SynthBirds,
)
from fgssl.files import atomic_write_json, read_json

SPLITS = ("train", "val", "test", "unlabelled")
CHECK_FILE = "fgssl_checked.json"


class DataMissingError(FileNotFoundError):
    """A dataset's files are not where the catalog expects them (says where to get them)."""


@dataclass(frozen=True)
class DatasetSpec:
    """What the catalog knows about one dataset.

    ``counts`` are the images per official split, verified after reading when given;
    ``fetch`` downloads into the dataset folder (None: the files must be placed by hand, as
    ``manual`` explains); ``own_root`` datasets live in the folder given as ``root`` itself;
    ``siblings`` are pairs of classes that differ in one part, and which part.
    """

    name: str
    title: str
    num_classes: int | None
    counts: dict[str, int] | None
    source: str
    licence: str
    notes: str
    read: Callable[[Path], Collection]
    fetch: Callable[[Path], None] | None = None
    manual: str | None = None
    own_root: bool = False
    siblings: tuple[tuple[int, int, str], ...] = ()  # class pairs differing in one named part


def _no_reader(folder: Path) -> Collection:
    raise DataFormatError("synthbirds is rendered, not read: use catalog.dataset()")


SPECS: dict[str, DatasetSpec] = {spec.name: spec for spec in (
    DatasetSpec("synthbirds", "SynthBirds (procedural, embedded)", NUM_CLASSES, None,
                "rendered locally by fgssl", "MIT (part of fgssl)",
                "24 species in 12 sibling pairs that differ in one small part", _no_reader,
                siblings=SIBLING_PAIRS),
    DatasetSpec("cub200", "CUB-200-2011", 200, {"train": 5994, "test": 5794}, cub.URL,
                "research and non-commercial use", "boxes and 15 parts; 43 images overlap ImageNet",
                cub.read, fetch=cub.fetch),
    DatasetSpec("flowers102", "Oxford Flowers-102", 102, {"train": 1020, "val": 1020,
                "test": 6149}, "torchvision.datasets.Flowers102", "see the VGG page",
                "labels 0-based since torchvision 0.13", sources.read_flowers102,
                fetch=sources.fetch_flowers102),
    DatasetSpec("fgvc_aircraft", "FGVC-Aircraft 2013b (variants)", 100,
                {"train": 3334, "val": 3333, "test": 3333}, "torchvision.datasets.FGVCAircraft",
                "non-commercial research only",
                "100 variants (its README's '102' is wrong); the 20-px banner is cropped",
                sources.read_fgvc_aircraft, fetch=sources.fetch_fgvc_aircraft),
    DatasetSpec("stanford_cars", "Stanford Cars", 196, {"train": 8144, "test": 8041},
                "manual: the original URL is dead since 2023", "non-commercial research only",
                "torchvision's layout", sources.read_stanford_cars,
                manual="download the Stanford Cars files (cars_train/, cars_test/, devkit/, "
                       "cars_test_annos_withlabels.mat; a Kaggle mirror has them) and put them "
                       "in {folder}/"),
    DatasetSpec("stanford_dogs", "Stanford Dogs", 120, {"train": 12000, "test": 8580},
                sources.DOGS_URL, "ImageNet terms", "every breed is an ImageNet class",
                sources.read_stanford_dogs, fetch=sources.fetch_stanford_dogs),
    DatasetSpec("nabirds", "NABirds", 555, {"train": 23929, "test": 24633},
                "manual: registration at the Cornell Lab (dl.allaboutbirds.org/nabirds)",
                "non-commercial research only", "UUID ids; class ids remapped to 0..554",
                sources.read_nabirds,
                manual="register for NABirds at the Cornell Lab, download nabirds.tar.gz, and "
                       "extract it so that {folder}/images.txt exists"),
    DatasetSpec("cassava", "Cassava leaf disease (Kaggle 2019 or 2020)", 5, None,
                "manual: Kaggle competitions cassava-disease (2019) or "
                "cassava-leaf-disease-classification (2020)", "Kaggle competition rules",
                "2019: 5,656 labelled + 12,595 unlabelled, majority floor 47%; 2020: 21,397",
                sources.read_cassava,
                manual="download a Kaggle cassava competition's data (kaggle competitions "
                       "download -c cassava-disease) and extract it so that {folder}/train/ "
                       "(2019) or {folder}/train.csv (2020) exists"),
    DatasetSpec("folder", "any folder of images", None, None, "your own images", "yours",
                "class sub-folders (split 70/10/20, seeded) or train/ and val/ (tested on "
                "val/) or train/, val/ and test/ sub-folders, beside unlabelled images in "
                "unlabelled/ or loose; or a flat folder of unlabelled images",
                read_image_folder,
                manual="pass --root pointing at {folder}/<class>/<image> files", own_root=True),
    DatasetSpec("cub_format", "a CUB-format folder", None, None, "your own images", "yours",
                "images.txt, image_class_labels.txt, train_test_split.txt (+ classes.txt)",
                read_cub_format,
                manual="pass --root pointing at the folder holding images.txt", own_root=True),
)}


def names() -> list[str]:
    """Every dataset name the catalog knows."""
    return list(SPECS)


def spec(name: str) -> DatasetSpec:
    """The spec of ``name``; an unknown name is an error listing the valid ones."""
    if name not in SPECS:
        raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(SPECS)}")
    return SPECS[name]


def folder_of(name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """Where dataset ``name`` lives: ``root`` itself for own-root layouts, else root/name."""
    if spec(name).own_root:
        if root is None:
            raise ValueError(f"dataset {name!r} needs --root: the folder that holds your images")
        return Path(root)
    return data_root(root) / name


def collection(name: str, root: str | os.PathLike[str] | None = None, seed: int = 0
               ) -> tuple[Collection, dict[str, list[Record]]]:
    """Read a real dataset, drop unreadable images (with one warning), verify the official
    counts, and return it with its fixed train / val / test / unlabelled splits."""
    entry, folder = spec(name), folder_of(name, root)
    try:
        found = entry.read(folder)
    except DataFormatError as error:
        given_a_file = folder.exists() and not folder.is_dir()
        if given_a_file or (folder.is_dir() and any(folder.iterdir())):
            raise  # not a folder, or a folder with something else in it: the reader says
        raise DataMissingError(_where_to_get(entry, folder, root)) from error
    _verify_counts(entry, found)
    found.content = content_fingerprint(found.root, found.splits,
                                        derived_folder(found) / HASHES_FILE)
    bad = set(_unreadable_cached(found))
    warn_skipped("unreadable images (corrupt, truncated or not images)", sorted(bad))
    found.splits = {s: [r for r in rs if r.path not in bad] for s, rs in found.splits.items()}
    _check_every_class_has_images(found)
    return found, finalise(found, seed, derived_folder(found))


def _check_every_class_has_images(found: Collection) -> None:
    """A class whose images were all unreadable is as empty as an empty class folder."""
    labels = {r.label for name, rs in found.splits.items() if name != "unlabelled" for r in rs}
    empty = [name for label, name in enumerate(found.classes) if label not in labels]
    if empty and labels:  # (a dataset of unlabelled images has no classes to check)
        raise no_images_error(found.root / empty[0])


def derived_folder(found: Collection) -> Path:
    """Where fgssl keeps what it derives from a dataset folder (its decode check, split files
    and uint8 caches): ``<data root>/derived/<folder name>-<hash of its resolved path>``,
    under ``FGSSL_DATA`` (else the project's ``data/``) whatever ``root`` was given, so that
    the dataset folder is only ever read (it may be read-only: a Kaggle input, a shared lab
    copy). Each file there is keyed by the dataset's files, so a changed folder is checked
    and split again."""
    return data_root() / "derived" / \
        f"{found.root.resolve().name or 'root'}-{path_digest(found.root)[:12]}"


def data_key(name: str, root: str | os.PathLike[str] | None = None) -> str:
    """The folder name under which runs of dataset ``name`` (at ``root``) are kept:
    ``synthbirds``, else its location's key (``folder-mybirds-1a2b3c4d``; no file is read)."""
    return name if name == "synthbirds" else location_key(name, folder_of(name, root))


def identity(name: str, root: str | os.PathLike[str] | None = None) -> DatasetIdentity:
    """What a run trained on ``name`` (at ``root``) depends on: where the dataset is and what
    it holds; SynthBirds is known by its renderer's version."""
    if name == "synthbirds":
        return DatasetIdentity(name, None, f"renderer-{RENDERER_VERSION}")
    found, _ = collection(name, root)
    return DatasetIdentity(name, str(found.root.resolve()), found.content)


def _where_to_get(entry: DatasetSpec, folder: Path, root: str | os.PathLike[str] | None
                  ) -> str:
    if entry.fetch is not None:
        where = "" if root is None else f" --root {root}"  # else FGSSL_DATA, as here
        return f"{entry.name} is not in {folder}: run `fgssl data prepare {entry.name}{where}`"
    return f"{entry.name} is not in {folder}: {entry.manual.format(folder=folder)}"


def _verify_counts(entry: DatasetSpec, found: Collection) -> None:
    if entry.num_classes is not None and len(found.classes) != entry.num_classes:
        raise DataFormatError(f"{entry.name}: expected {entry.num_classes} classes, found "
                              f"{len(found.classes)} in {found.root}: the files are incomplete")
    for split, expected in (entry.counts or {}).items():
        have = len(found.splits.get(split, []))
        if have != expected:
            raise DataFormatError(f"{entry.name}: expected {expected:,} {split} images, found "
                                  f"{have:,} in {found.root}: the files are incomplete")


def _unreadable_cached(found: Collection) -> list[str]:
    """Decode-check every image once; the result is kept in the :func:`derived_folder`,
    keyed by the dataset's content."""
    path = derived_folder(found) / CHECK_FILE
    saved = read_json(path)
    if saved is not None and saved.get("fingerprint") == found.content:
        return saved["unreadable"]
    bad = unreadable(found.root, [r for rs in found.splits.values() for r in rs])
    atomic_write_json({"fingerprint": found.content, "unreadable": bad}, path)
    return bad


# --- SynthBirds ---------------------------------------------------------------------------
def synthbirds_sizes(prof: Profile) -> dict[str, int]:
    """Images per SynthBirds split for a profile."""
    return {"train": prof.train_per_class * NUM_CLASSES, "val": prof.val_per_class * NUM_CLASSES,
            "test": prof.test_per_class * NUM_CLASSES, "unlabelled": prof.n_unlabelled}


def _synthbirds(split: str, prof: Profile, root: Path, seed: int,
                transform: Callable[[torch.Tensor], Any] | None) -> CachedImages:
    n, size, birds = synthbirds_sizes(prof)[split], prof.image_size, SynthBirds(seed)
    key = {"dataset": "synthbirds", "renderer": RENDERER_VERSION, "seed": seed, "split": split,
           "n": n, "size": size}
    images = cached_images(root / "synthbirds" / f"{size}px_seed{seed}" / f"{split}_{n}", key, n,
                           size, lambda a, b: birds.render(split, range(a, b), size).images,
                           desc=f"rendering SynthBirds {split}")
    labels = birds.labels(split, range(n)) if split != "unlabelled" else np.full(n, -1)
    return CachedImages(images, labels, transform)


@dataclass
class Annotations:
    """A split's boxes ``x0, y0, x1, y1`` (N, 4) and part locations ``x, y, visible``
    (N, K, 3) in the pixels of its cached images; None where the dataset has none."""

    boxes: np.ndarray | None
    parts: np.ndarray | None
    part_names: list[str]


def annotations(name: str, split: str, root: str | os.PathLike[str] | None = None,
                size: int = 224, seed: int = 0) -> Annotations:
    """The boxes and parts of a real dataset's ``split`` (CUB ships both), moved to where the
    uint8 cache at ``size`` puts them (shorter side resized, centre crop); a part that the
    crop cuts off counts as not visible. Datasets whose images carry EXIF rotations are not
    annotated; SynthBirds draws its own (:meth:`SynthBirds.render`)."""
    if name == "synthbirds":
        raise ValueError("SynthBirds' boxes and keypoints come with its images: "
                         "use fgssl.data.synthbirds.SynthBirds(seed).render(split, indices, size)")
    found, splits = collection(name, root, seed)
    boxes, parts = [], []
    for record in splits[split]:
        with Image.open(found.root / record.path) as image:
            width, height = image.width, max(1, image.height - found.trim_bottom)
        if record.box is not None:
            x, y, box_width, box_height = record.box
            corners = points_after_crop([[x, y], [x + box_width, y + box_height]], width,
                                        height, size)
            boxes.append(np.clip(corners, 0, size).ravel())
        if found.parts:
            located = np.array(found.parts.get(record.path, np.zeros((len(found.part_names),
                                                                      3))), dtype=np.float64)
            located[:, :2] = points_after_crop(located[:, :2], width, height, size)
            inside = ((located[:, :2] >= 0) & (located[:, :2] < size)).all(1)
            located[:, 2] = (located[:, 2] > 0) & inside
            parts.append(located)
    return Annotations(np.array(boxes, dtype=np.float32) if len(boxes) == len(splits[split])
                       and boxes else None,
                       np.array(parts, dtype=np.float32) if parts else None,
                       list(found.part_names))


# --- the API ------------------------------------------------------------------------------
def dataset(name: str, split: str, root: str | os.PathLike[str] | None = None,
            size: int | None = None, transform: Callable[[Any], Any] | None = None,
            profile: str | Profile | None = None, seed: int = 0
            ) -> CachedImages | ImageRecords:
    """A torch dataset of ``(image, label)`` for ``split`` (train, val, test or unlabelled;
    unlabelled items carry label -1).

    With ``size`` (always, for SynthBirds: the profile's image size) images come from the uint8
    cache as (3, size, size) tensors; without it, real datasets yield PIL RGB images.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
    spec(name)
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    if name == "synthbirds":
        if size not in (None, prof.image_size):
            prof = dataclasses.replace(prof, image_size=size)
        return _synthbirds(split, prof, data_root(root), seed, transform)
    found, splits = collection(name, root, seed)
    records = splits[split]
    if size is None:
        return ImageRecords(found, records, transform)
    key = {"dataset": name, "split": split, "size": size, "seed": seed,
           "content": found.content, "records": [(r.path, r.label) for r in records]}
    images = cached_images(
        derived_folder(found) / f"{split}_{size}px_seed{seed}", key, len(records), size,
        lambda a, b: np.stack([resize_center_crop(load_rgb(found.root / r.path, found.trim_bottom),
                                                  size) for r in records[a:b]]),
        desc=f"decoding {name} {split}",
    )
    return CachedImages(images, np.array([r.label for r in records]), transform)


def info(name: str, root: str | os.PathLike[str] | None = None,
         profile: str | None = None) -> dict[str, Any]:
    """Classes, split sizes and where the files are; works before a dataset is prepared.
    ``splits["unlabelled"]`` is the pretraining pool: the train images without their labels
    and the ``unlabelled_only`` images; ``runs_key`` names the dataset's folder in ``runs/``."""
    entry = spec(name)
    result: dict[str, Any] = {"name": name, "title": entry.title, "num_classes": entry.num_classes,
                              "source": entry.source, "licence": entry.licence,
                              "notes": entry.notes}
    if name == "synthbirds":
        prof = get_profile(profile)
        result.update(splits=synthbirds_sizes(prof), prepared=True, profile=prof.name,
                      image_size=prof.image_size, location=str(data_root(root) / "synthbirds"),
                      classes=list(SPECIES_NAMES))
        return result
    folder = folder_of(name, root)
    result["location"] = str(folder)
    try:
        found, splits = collection(name, root)
    except DataMissingError as missing:
        result.update(prepared=False, splits=dict(entry.counts or {}), how_to_get=str(missing))
        return result
    result.update(prepared=True, num_classes=len(found.classes), classes=found.classes,
                  splits={s: len(splits[s]) for s in SPLITS},
                  unlabelled_only=len(splits["unlabelled"]) - len(splits["train"]),
                  runs_key=data_key(name, root))
    return result


def prepare(name: str, root: str | os.PathLike[str] | None = None,
            profile: str | None = None) -> dict[str, Any]:
    """Download, verify and extract a dataset (or render SynthBirds); return its :func:`info`.

    Where a download is impossible this raises :class:`DataMissingError` saying where to get
    the files and where to put them; once they are there, it verifies them.
    """
    entry = spec(name)
    if name == "synthbirds":
        for split in SPLITS:
            dataset(name, split, root, profile=profile)
        return info(name, root, profile)
    folder = folder_of(name, root)
    if entry.fetch is not None:
        folder.mkdir(parents=True, exist_ok=True)
        entry.fetch(folder)
    collection(name, root)  # reads, verifies and writes the split file
    return info(name, root, profile)
