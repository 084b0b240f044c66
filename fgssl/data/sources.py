"""Readers for the other fine-grained datasets, each from its official on-disk layout.

Each ``read_*`` takes the dataset's folder under the data root and returns a
:class:`~fgssl.data.folders.Collection`; each ``fetch_*`` downloads where that is possible.
Facts (counts, quirks) are in :mod:`fgssl.data.catalog` and ``docs/STUDY.md``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from scipy.io import loadmat

from fgssl.data.download import download, safe_extract
from fgssl.data.folders import (
    Collection,
    DataFormatError,
    Record,
    read_cub_format,
    read_image_folder,
    read_table,
)


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise DataFormatError(f"missing {path} ({what}): the dataset folder is incomplete")
    return path


def _torchvision_download(dataset_class: type, folder: Path) -> None:
    """Let torchvision download (and md5-check) a dataset; a network failure is one clear line."""
    try:
        dataset_class(str(folder), split="train", download=True)
    except (OSError, RuntimeError) as error:
        raise ConnectionError(
            f"could not download {dataset_class.__name__} with torchvision ({error}); check "
            "your internet connection and run the command again"
        ) from error


# --- Flowers-102 (Nilsback & Zisserman 2008), via torchvision's download -----------------------
def fetch_flowers102(folder: Path) -> None:
    from torchvision.datasets import Flowers102

    _torchvision_download(Flowers102, folder)


def read_flowers102(folder: Path) -> Collection:
    """``flowers-102/jpg/image_00001.jpg``, ``imagelabels.mat`` (1-based), ``setid.mat``."""
    from torchvision.datasets import Flowers102

    base = folder / "flowers-102"
    labels = loadmat(_require(base / "imagelabels.mat", "labels"))["labels"].ravel() - 1
    setid = loadmat(_require(base / "setid.mat", "official split"))
    splits = {
        split: [Record(f"jpg/image_{i:05d}.jpg", int(labels[i - 1])) for i in setid[key].ravel()]
        for split, key in (("train", "trnid"), ("val", "valid"), ("test", "tstid"))
    }
    classes = list(getattr(Flowers102, "classes", [])) or [str(k) for k in range(102)]
    return Collection("flowers102", base, classes, splits)


# --- FGVC-Aircraft 2013b (Maji et al. 2013), via torchvision's download -----------------------
def fetch_fgvc_aircraft(folder: Path) -> None:
    from torchvision.datasets import FGVCAircraft

    _torchvision_download(FGVCAircraft, folder)


def read_fgvc_aircraft(folder: Path) -> Collection:
    """``data/images_variant_{train,val,test}.txt`` lines ``<id> <variant>`` (variants contain
    spaces and ``/``); the bottom 20 px of every image are a copyright banner, trimmed."""
    base = folder / "fgvc-aircraft-2013b"
    data = base / "data"
    classes = [line.strip() for line in _require(data / "variants.txt", "class names")
               .read_text().splitlines() if line.strip()]
    index = {name: k for k, name in enumerate(classes)}
    splits = {}
    for split in ("train", "val", "test"):
        table = read_table(_require(data / f"images_variant_{split}.txt", f"{split} split"), 2,
                           max_split=1)
        unknown = sorted({v[0] for v in table.values()} - set(index))
        if unknown:
            raise DataFormatError(f"{data}/images_variant_{split}.txt: unknown variants {unknown}")
        splits[split] = [Record(f"data/images/{i}.jpg", index[v[0]]) for i, v in table.items()]
    return Collection("fgvc_aircraft", base, classes, splits, trim_bottom=20)


# --- Stanford Cars (Krause et al. 2013): manual placement -------------------------------------
def read_stanford_cars(folder: Path) -> Collection:
    """torchvision's layout: ``cars_train/``, ``cars_test/``, ``devkit/cars_meta.mat``,
    ``devkit/cars_train_annos.mat``, ``cars_test_annos_withlabels.mat`` (labels 1-based)."""
    meta = loadmat(_require(folder / "devkit" / "cars_meta.mat", "class names"), squeeze_me=True)
    classes = [str(name) for name in meta["class_names"]]
    splits = {}
    for split, annos in (("train", folder / "devkit" / "cars_train_annos.mat"),
                         ("test", folder / "cars_test_annos_withlabels.mat")):
        rows = np.atleast_1d(loadmat(_require(annos, f"{split} labels"), squeeze_me=True)
                             ["annotations"])
        splits[split] = [
            Record(f"cars_{split}/{row['fname']}", int(row["class"]) - 1,
                   (float(row["bbox_x1"]), float(row["bbox_y1"]),
                    float(row["bbox_x2"] - row["bbox_x1"]), float(row["bbox_y2"] - row["bbox_y1"])))
            for row in rows
        ]
    return Collection("stanford_cars", folder, classes, splits)


# --- Stanford Dogs (Khosla et al. 2011) ---------------------------------------------------------
DOGS_URL = "http://vision.stanford.edu/aditya86/ImageNetDogs/"


def fetch_stanford_dogs(folder: Path, url: str = DOGS_URL) -> None:
    """Download ``images.tar`` and ``lists.tar``; no official checksum is published, so the
    image counts are verified instead."""
    for name, marker in (("images.tar", "Images"), ("lists.tar", "train_list.mat")):
        if not (folder / marker).exists():
            safe_extract(download(url + name, folder / name), folder)
            (folder / name).unlink()


def read_stanford_dogs(folder: Path) -> Collection:
    """``Images/<synset>-<breed>/*.jpg``; ``{train,test}_list.mat`` with 1-based labels."""
    splits, names = {}, {}
    for split in ("train", "test"):
        mat = loadmat(_require(folder / f"{split}_list.mat", f"{split} list"), squeeze_me=True)
        files, labels = np.atleast_1d(mat["file_list"]), np.atleast_1d(mat["labels"]) - 1
        splits[split] = [Record(f"Images/{f}", int(y)) for f, y in zip(files, labels, strict=True)]
        names.update({int(y): str(f).split("/")[0].split("-", 1)[-1] for f, y in zip(files, labels,
                                                                                        strict=True)})
    classes = [names[k] for k in sorted(names)]
    return Collection("stanford_dogs", folder, classes, splits)


# --- NABirds (Van Horn et al. 2015): manual placement, CUB-like files with UUID ids --------------
def read_nabirds(folder: Path) -> Collection:
    """CUB-format files with UUID image ids; class ids are non-contiguous (only leaf classes
    have images) and are remapped to 0..554."""
    return read_cub_format(folder, name="nabirds")


# --- Cassava (Kaggle 2019 "cassava-disease" or 2020 "cassava-leaf-disease-classification") -----
CASSAVA_CLASSES = ["cbb", "cbsd", "cgm", "cmd", "healthy"]


def read_cassava(folder: Path) -> Collection:
    """2019: ``train/<class>/*.jpg`` and ``extraimages/*.jpg`` (unlabelled). 2020: ``train.csv``
    (``image_id,label``) and ``train_images/``."""
    if (folder / "train.csv").is_file():
        with open(folder / "train.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows or not {"image_id", "label"} <= set(rows[0]):
            raise DataFormatError(f"{folder}/train.csv: expected the columns image_id,label")
        try:
            records = [Record(f"train_images/{r['image_id']}", int(r["label"])) for r in rows]
        except ValueError as error:
            raise DataFormatError(f"{folder}/train.csv: malformed label ({error})") from None
        return Collection("cassava", folder, CASSAVA_CLASSES, {"all": records})
    labelled = read_image_folder(_require(folder / "train", "2019 labelled images"), "cassava")
    if labelled.classes != CASSAVA_CLASSES:
        raise DataFormatError(
            f"{folder}/train: expected class folders {CASSAVA_CLASSES}, found {labelled.classes}"
        )
    splits = {"all": [Record(f"train/{r.path}", r.label) for r in labelled.splits["all"]]}
    if (folder / "extraimages").is_dir():
        extra = read_image_folder(folder / "extraimages", "cassava").splits["unlabelled"]
        splits["unlabelled"] = [Record(f"extraimages/{r.path}", -1) for r in extra]
    return Collection("cassava", folder, CASSAVA_CLASSES, splits)
