import json

import numpy as np
import pytest

from fgssl.data.folders import Collection, DataFormatError, DataWarning, Record
from fgssl.data.splits import finalise, label_subset, stratified_split


def test_stratified_split_is_disjoint_complete_and_per_class():
    labels = np.repeat(np.arange(5), [3, 10, 40, 7, 100])
    parts = stratified_split(labels, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=1)
    together = np.concatenate(list(parts.values()))
    assert sorted(together.tolist()) == list(range(len(labels)))
    for name in parts:  # every class has at least one image in every part
        assert set(labels[parts[name]]) == set(range(5)), name
    assert np.bincount(labels[parts["test"]])[4] == 20


def test_stratified_split_is_seeded():
    labels = np.repeat(np.arange(3), 20)
    a = stratified_split(labels, {"x": 0.5, "y": 0.5}, seed=0)
    b = stratified_split(labels, {"x": 0.5, "y": 0.5}, seed=0)
    c = stratified_split(labels, {"x": 0.5, "y": 0.5}, seed=1)
    assert np.array_equal(a["x"], b["x"]) and not np.array_equal(a["x"], c["x"])
    with pytest.raises(ValueError, match="sum to 1"):
        stratified_split(labels, {"x": 0.5, "y": 0.6}, seed=0)


def test_label_budgets_are_stratified_and_nested():
    labels = np.repeat(np.arange(4), [10, 20, 30, 200])
    one = label_subset(labels, fraction=0.01, seed=0)
    ten = label_subset(labels, fraction=0.1, seed=0)
    assert np.bincount(labels[one]).tolist() == [1, 1, 1, 2]  # at least one per class
    assert np.bincount(labels[ten]).tolist() == [1, 2, 3, 20]
    assert set(one) <= set(ten)
    five = label_subset(labels, per_class=5, seed=0)
    assert np.bincount(labels[five]).tolist() == [5, 5, 5, 5]
    assert len(label_subset(labels, fraction=1.0, seed=0)) == len(labels)
    for bad in ({"fraction": 0.0}, {"fraction": 1.5}, {"per_class": 0}, {}):
        with pytest.raises(ValueError):
            label_subset(labels, **bad)


def _collection(root, splits):
    return Collection("fake", root, ["a", "b"], splits)


def test_finalise_carves_val_from_train_and_keeps_test(tmp_path):
    train = [Record(f"t{k}.jpg", k % 2) for k in range(20)]
    test = [Record(f"s{k}.jpg", k % 2) for k in range(6)]
    splits = finalise(_collection(tmp_path, {"train": train, "test": test}), 0, tmp_path)
    assert splits["test"] == test
    assert len(splits["val"]) == 2 and len(splits["train"]) == 18
    assert {r.label for r in splits["unlabelled"]} == {-1}
    assert {r.path for r in splits["unlabelled"]} == {r.path for r in splits["train"]}


def test_finalise_remakes_the_split_when_the_data_changes(tmp_path):
    train = [Record(f"t{k}.jpg", k % 2) for k in range(20)]
    first = finalise(_collection(tmp_path, {"all": train}), 0, tmp_path / "derived")
    assert finalise(_collection(tmp_path, {"all": train}), 0, tmp_path / "derived") == first
    changed = finalise(_collection(tmp_path, {"all": train[:-2]}), 0, tmp_path / "derived")
    assert sum(len(v) for k, v in changed.items() if k != "unlabelled") == 18


def test_a_split_file_an_earlier_fgssl_left_beside_the_data_is_read_not_rewritten(tmp_path):
    train = [Record(f"t{k}.jpg", k % 2) for k in range(20)]
    first = finalise(_collection(tmp_path, {"all": train}), 0, tmp_path / "derived")
    (tmp_path / "derived" / "fgssl_splits_seed0.json").rename(tmp_path / "fgssl_splits_seed0.json")
    saved = json.loads((tmp_path / "fgssl_splits_seed0.json").read_text())
    parts = saved["splits"]
    parts["val"], parts["test"] = parts["test"], parts["val"]
    (tmp_path / "fgssl_splits_seed0.json").write_text(json.dumps(saved))  # as if made differently
    again = finalise(_collection(tmp_path, {"all": train}), 0, tmp_path / "derived")
    assert again["val"] == first["test"] and again["test"] == first["val"]
    assert not (tmp_path / "derived" / "fgssl_splits_seed0.json").exists()


def test_finalise_without_any_images_is_an_error(tmp_path):
    with pytest.raises(DataFormatError, match="no images"):
        finalise(_collection(tmp_path, {"all": []}), 0, tmp_path)


def test_a_class_too_small_for_train_val_and_test_is_named_in_one_warning(tmp_path):
    records = [Record(f"a{k}.jpg", 0) for k in range(20)] + [Record("b0.jpg", 1),
                                                             Record("b1.jpg", 1)]
    with pytest.warns(DataWarning, match=r"fake: 1 classes have too few images for train, val "
                                         r"and test: b \(none in val or test\); add images"):
        first = finalise(_collection(tmp_path, {"all": records}), 0, tmp_path / "derived")
    with pytest.warns(DataWarning, match="b \\(none in val or test\\)"):  # said when read back
        again = finalise(_collection(tmp_path, {"all": records}), 0, tmp_path / "derived")
    assert again == first and {r.label for r in first["train"]} == {0, 1}  # kept, in train


def test_classes_with_enough_images_give_no_warning(tmp_path, recwarn):
    records = [Record(f"t{k}.jpg", k % 2) for k in range(20)]
    finalise(_collection(tmp_path, {"all": records}), 0, tmp_path / "derived")
    assert not [w for w in recwarn if issubclass(w.category, DataWarning)]
