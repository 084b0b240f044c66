"""Fixed, seeded, stratified splits and label budgets, saved where fgssl keeps its own files.

The evaluation protocol needs splits that never move: every choice is made on ``val``, ``test``
is read once at the end, and every method sees the same labelled images. So:

- ``val`` is carved from the official ``train`` split (stratified, seeded);
- a dataset without an official split gets a stratified ``train`` / ``val`` / ``test``;
- a dataset that ships ``train`` and ``val`` but no ``test`` (torchvision's ``ImageFolder``
  layout) is tested on its ``val``, and its own ``val`` is carved from ``train``;
- label budgets (a fraction like 1% / 10% / 100%, or ``k`` images per class) are stratified
  subsets of ``train``, nested: the 1% subset lies inside the 10% one, so curves over budgets
  compare like with like;
- the ``unlabelled`` view is the train images without their labels, plus any extra images.

:func:`finalise` writes the result to ``fgssl_splits_seed<seed>.json`` in a folder of fgssl's
(never the dataset's own folder, which may be read-only) and reads it back on every later call.

Example::

    >>> import numpy as np
    >>> labels = np.repeat(np.arange(3), 10)
    >>> sorted(np.bincount(labels[label_subset(labels, per_class=2, seed=0)]))
    [2, 2, 2]
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset, Subset

from fgssl.data.folders import Collection, DataFormatError, DataWarning, Record
from fgssl.files import atomic_write_json, read_json

SPLIT_FILE = "fgssl_splits_seed{seed}.json"
VAL_FRACTION = 0.1
TEST_FRACTION = 0.2


def _per_class_permutations(labels: np.ndarray, seed: int) -> list[np.ndarray]:
    """For each class present, its indices in a seeded random order."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]


def stratified_split(labels: np.ndarray, fractions: dict[str, float], seed: int
                     ) -> dict[str, np.ndarray]:
    """Split indices so each class is divided in ``fractions`` (which must sum to 1).

    Every part gets at least one image of each class that has enough images for all parts.
    """
    if abs(sum(fractions.values()) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must sum to 1, got {fractions}")
    names, shares = list(fractions), np.array(list(fractions.values()))
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for order in _per_class_permutations(np.asarray(labels), seed):
        counts = np.floor(shares * len(order)).astype(np.int64)
        if len(order) >= len(names):
            counts = np.maximum(counts, 1)
        while counts.sum() > len(order):
            counts[np.argmax(counts)] -= 1
        counts[0] += len(order) - counts.sum()
        for name, chunk in zip(names, np.split(order, np.cumsum(counts)[:-1]), strict=True):
            parts[name].append(chunk)
    return {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}


def check_label_fraction(labels: float) -> None:
    """A label budget is a fraction of the train split in (0, 1]; anything else is an error."""
    if not 0 < labels <= 1:
        raise ValueError(f"labels is a fraction of the train split in (0, 1], e.g. 0.1; "
                         f"got {labels}")


def label_subset(labels: np.ndarray, fraction: float | None = None,
                 per_class: int | None = None, seed: int = 0) -> np.ndarray:
    """The indices of a stratified label budget; a smaller budget at the same seed is a subset
    of a larger one.

    Args:
        labels: (N,) class labels of the split.
        fraction: that fraction of each class's images (at least one), or
        per_class: that many images of each class (give exactly one of the two).
        seed: seeds each class's order.

    Returns:
        (M,) indices into ``labels``, sorted."""
    if (fraction is None) == (per_class is None):
        raise ValueError("give exactly one of fraction or per_class")
    if fraction is not None:
        check_label_fraction(fraction)
    if per_class is not None and per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
    chosen = []
    for order in _per_class_permutations(np.asarray(labels), seed):
        take = per_class if per_class is not None else max(1, round(fraction * len(order)))
        chosen.append(order[:take])
    return np.sort(np.concatenate(chosen))


def repeated_budget(data: Dataset, budget: np.ndarray) -> Subset:
    """The images of a label budget, repeated so that an epoch has about as many images as the
    whole split: the same number of epochs then means the same number of training steps at
    every budget.

    Args:
        data: the split.
        budget: indices into ``data`` (:func:`label_subset`).

    Returns:
        A subset of ``data``."""
    repeats = max(1, len(data) // len(budget))
    return Subset(data, np.tile(budget, repeats).tolist())


def finalise(collection: Collection, seed: int, folder: Path) -> dict[str, list[Record]]:
    """The fixed ``train`` / ``val`` / ``test`` / ``unlabelled`` splits of a collection.

    Read from the split file in ``folder`` when it exists and still matches the collection
    (or from one an earlier fgssl wrote beside the data); otherwise made (seeded,
    stratified) and written to ``folder``.
    """
    file_name = SPLIT_FILE.format(seed=seed)
    source = json.loads(json.dumps(
        {name: [asdict(r) for r in records] for name, records in collection.splits.items()}))
    for candidate in (folder / file_name, collection.root / file_name):
        saved = read_json(candidate)
        if saved is not None and saved.get("source") == source:
            splits = {split: [_record(r) for r in records]
                      for split, records in saved["splits"].items()}
            warn_missing_classes(collection, splits)
            return splits
    splits = _make_splits(collection, seed)
    warn_missing_classes(collection, splits)
    atomic_write_json(
        {"seed": seed, "source": source,
         "splits": {name: [asdict(r) for r in records] for name, records in splits.items()}},
        folder / file_name,
    )
    return splits


def warn_missing_classes(collection: Collection, splits: dict[str, list[Record]]) -> None:
    """One warning naming the classes with too few images to appear in each of train, val and
    test (a class needs 3 for one image in each; a val or test score of one image is noise):
    they are kept, but the probe cannot be scored on a class test lacks."""
    labelled = [name for name in ("train", "val", "test") if splits.get(name)]
    if len(labelled) < 3:
        return
    present = {name: {r.label for r in splits[name]} for name in labelled}
    missing = {c: [name for name in labelled if c not in present[name]]
               for c in range(len(collection.classes))}
    short = [f"{collection.classes[c]} (none in {' or '.join(names)})"
             for c, names in missing.items() if names]
    if short:
        warnings.warn(f"{collection.name}: {len(short)} classes have too few images for train, "
                      f"val and test: {', '.join(short[:20])}; add images (10 or more per "
                      "class), or remove those classes", DataWarning, stacklevel=3)


def _record(fields: dict) -> Record:
    box = fields.get("box")
    return Record(fields["path"], fields["label"], tuple(box) if box else None)


def _make_splits(collection: Collection, seed: int) -> dict[str, list[Record]]:
    given = collection.splits
    extra = given.get("unlabelled", [])
    if "train" in given and ("test" in given or "val" in given):
        train, test = given["train"], given.get("test") or given["val"]
        if "val" in given and "test" in given:
            val = given["val"]
        else:
            parts = stratified_split(_labels(train), {"train": 1 - VAL_FRACTION,
                                                      "val": VAL_FRACTION}, seed)
            train, val = [train[i] for i in parts["train"]], [train[i] for i in parts["val"]]
    elif given.get("all") or given.get("train"):
        records = given.get("all") or given["train"]
        parts = stratified_split(
            _labels(records),
            {"train": 1 - VAL_FRACTION - TEST_FRACTION, "val": VAL_FRACTION,
             "test": TEST_FRACTION}, seed,
        )
        train, val, test = ([records[i] for i in parts[name]] for name in ("train", "val", "test"))
    elif extra:
        return {"train": [], "val": [], "test": [], "unlabelled": list(extra)}
    else:
        raise DataFormatError(f"{collection.name}: no images with labels and no unlabelled images")
    unlabelled = [Record(r.path, -1, r.box) for r in train] + list(extra)
    return {"train": train, "val": val, "test": test, "unlabelled": unlabelled}


def _labels(records: list[Record]) -> np.ndarray:
    return np.array([r.label for r in records], dtype=np.int64)
