"""Tiny fake copies of the real datasets, in their real on-disk layouts."""

from __future__ import annotations

import csv
import os
import tarfile
from pathlib import Path

import numpy as np
import torch
from scipy.io import savemat

from tests.images import write_jpeg


def fake_cub(folder: Path, n_classes: int = 3, per_class: int = 4) -> Path:
    """``folder/CUB_200_2011/`` with images, the metadata files, boxes and parts."""
    root = folder / "CUB_200_2011"
    lines = {"images": [], "labels": [], "split": [], "boxes": [], "locs": []}
    image_id = 0
    for c in range(1, n_classes + 1):
        name = f"{c:03d}.Bird_{c}"
        for k in range(per_class):
            image_id += 1
            relative = f"{name}/{name}_{k}.jpg"
            write_jpeg(root / "images" / relative, seed=image_id, size=(40, 30))
            lines["images"].append(f"{image_id} {relative}")
            lines["labels"].append(f"{image_id} {c}")
            lines["split"].append(f"{image_id} {int(k % 2 == 0)}")
            lines["boxes"].append(f"{image_id} 1.0 2.0 30.0 20.0")
            lines["locs"] += [f"{image_id} {p} {5 * p}.0 {3 * p}.0 {p % 2}" for p in (1, 2)]
    files = {"images.txt": "images", "image_class_labels.txt": "labels",
             "train_test_split.txt": "split", "bounding_boxes.txt": "boxes",
             "parts/part_locs.txt": "locs"}
    (root / "parts").mkdir(parents=True)
    for filename, key in files.items():
        (root / filename).write_text("\n".join(lines[key]) + "\n")
    (root / "classes.txt").write_text(
        "".join(f"{c} {c:03d}.Bird_{c}\n" for c in range(1, n_classes + 1)))
    (root / "parts" / "parts.txt").write_text("1 beak\n2 left eye\n")
    (folder / "attributes.txt").write_text("1 has_bill_shape::dagger\n")
    return root


def fake_cub_archive(folder: Path) -> Path:
    """A ``CUB_200_2011.tgz`` with the real layout (the folder plus attributes.txt)."""
    source = folder / "source"
    fake_cub(source)
    archive = folder / "CUB_200_2011.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source / "CUB_200_2011", arcname="CUB_200_2011")
        tar.add(source / "attributes.txt", arcname="attributes.txt")
    return archive


def fake_flowers(folder: Path) -> None:
    base = folder / "flowers-102"
    labels = np.array([1, 2, 3, 1, 2, 3, 1, 2, 3])
    for i in range(1, len(labels) + 1):
        write_jpeg(base / "jpg" / f"image_{i:05d}.jpg", seed=i)
    savemat(base / "imagelabels.mat", {"labels": labels[None, :]})
    savemat(base / "setid.mat", {"trnid": np.array([[1, 2, 3]]), "valid": np.array([[4, 5, 6]]),
                                 "tstid": np.array([[7, 8, 9]])})


def fake_aircraft(folder: Path) -> None:
    data = folder / "fgvc-aircraft-2013b" / "data"
    variants = ["707-320", "A300B4", "F/A-18"]
    (data / "images").mkdir(parents=True)
    (data / "variants.txt").write_text("\n".join(variants) + "\n")
    image_id = 1000000
    for split in ("train", "val", "test"):
        lines = []
        for variant in variants:
            image_id += 1
            write_jpeg(data / "images" / f"{image_id}.jpg", seed=image_id % 97, size=(40, 50))
            lines.append(f"{image_id} {variant}")
        (data / f"images_variant_{split}.txt").write_text("\n".join(lines) + "\n")


def fake_cars(folder: Path) -> None:
    (folder / "devkit").mkdir(parents=True)
    savemat(folder / "devkit" / "cars_meta.mat",
            {"class_names": np.array([["AM General Hummer SUV 2000", "Audi R8 Coupe 2012"]],
                                     dtype=object)})
    for split, annos in (("train", folder / "devkit" / "cars_train_annos.mat"),
                         ("test", folder / "cars_test_annos_withlabels.mat")):
        rows = []
        for k in range(4):
            name = f"{k:05d}.jpg"
            write_jpeg(folder / f"cars_{split}" / name, seed=k)
            rows.append((1, 2, 20, 12, k % 2 + 1, name))
        dtype = [("bbox_x1", "O"), ("bbox_y1", "O"), ("bbox_x2", "O"), ("bbox_y2", "O"),
                 ("class", "O"), ("fname", "O")]
        savemat(annos, {"annotations": np.array([rows], dtype=dtype)})


def fake_dogs(folder: Path) -> None:
    breeds = ["n02085620-Chihuahua", "n02085782-Japanese_spaniel"]
    for split, offset in (("train", 0), ("test", 10)):
        files = []
        for label, breed in enumerate(breeds, start=1):
            for k in range(2):
                relative = f"{breed}/{breed.split('-')[0]}_{offset + k}.jpg"
                write_jpeg(folder / "Images" / relative, seed=offset + k)
                files.append((relative, label))
        savemat(folder / f"{split}_list.mat", {
            "file_list": np.array([[f] for f, _ in files], dtype=object),
            "labels": np.array([[y] for _, y in files]),
        })


def fake_nabirds(folder: Path) -> None:
    """UUID ids and non-contiguous class ids (parents have none), as NABirds has."""
    images, labels, split = [], [], []
    for k, class_id in enumerate([295, 295, 1010, 1010, 313, 313]):
        uuid = f"{k:08d}-aaaa-bbbb-cccc-{k:012d}"
        relative = f"{class_id:04d}/{uuid.replace('-', '')}.jpg"
        write_jpeg(folder / "images" / relative, seed=k)
        images.append(f"{uuid} {relative}")
        labels.append(f"{uuid} {class_id}")
        split.append(f"{uuid} {k % 2}")
    (folder / "images.txt").write_text("\n".join(images) + "\n")
    (folder / "image_class_labels.txt").write_text("\n".join(labels) + "\n")
    (folder / "train_test_split.txt").write_text("\n".join(split) + "\n")
    (folder / "classes.txt").write_text(
        "0 Birds\n295 Ruddy Duck\n313 Mallard (Male)\n1010 Wood Duck (Female/juvenile)\n")


def fake_cassava_2019(folder: Path, per_class: int = 5, extra: int = 3) -> None:
    for c in ("cbb", "cbsd", "cgm", "cmd", "healthy"):
        for k in range(per_class):
            write_jpeg(folder / "train" / c / f"train-{c}-{k}.jpg", seed=k)
    for k in range(extra):
        write_jpeg(folder / "extraimages" / f"extra-image-{k}.jpg", seed=100 + k)


def fake_cassava_2020(folder: Path) -> None:
    with open(folder / "train.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image_id", "label"])
        for k in range(10):
            write_jpeg(folder / "train_images" / f"{k}.jpg", seed=k)
            writer.writerow([f"{k}.jpg", k % 5])


class _Payload:
    """Unpickling it would call os.system: a checkpoint must never run it."""

    def __reduce__(self):
        return os.system, ("touch ran",)


def not_a_checkpoint(kind: str, path: Path) -> Path:
    """A file where a checkpoint is expected: pickled ``code``, ``empty``, ``truncated``,
    ``text`` or a ``foreign`` library's tensors; returns its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "code":
        torch.save({"model": _Payload()}, path)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        torch.save({"model": {"w": torch.zeros(1000)}, "epoch": 1}, path)
        path.write_bytes(path.read_bytes()[:2000])
    elif kind == "text":
        path.write_text("weights: none\n")
    else:  # another library's .pt: tensors only, none of fgssl's keys
        torch.save({"conv.weight": torch.zeros(2)}, path)
    return path
