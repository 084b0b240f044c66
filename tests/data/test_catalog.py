import dataclasses
import hashlib
import json
import os

import numpy as np
import pytest
import torch

from fgssl.config import data_root
from fgssl.data import catalog
from fgssl.data.folders import DataFormatError, DataWarning
from fgssl.data.synthbirds import NUM_CLASSES
from tests import fakes
from tests.images import write_broken_images, write_jpeg
from tests.servers import serve


def test_unknown_dataset_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"choose one of synthbirds, cub200, .*folder"):
        catalog.info("cub2011")


def test_missing_downloadable_dataset_says_how_to_prepare(tmp_path):
    result = catalog.info("cub200", root=tmp_path)
    assert result["prepared"] is False
    assert result["splits"] == {"train": 5994, "test": 5794}
    assert f"run `fgssl data prepare cub200 --root {tmp_path}`" in result["how_to_get"]
    with pytest.raises(catalog.DataMissingError, match="fgssl data prepare cub200 --root"):
        catalog.dataset("cub200", "train", root=tmp_path)
    # without a root: FGSSL_DATA, which the suggested command reads as well
    assert "run `fgssl data prepare cub200`" in catalog.info("cub200")["how_to_get"]


def test_manual_datasets_say_where_to_get_and_put_the_files(tmp_path):
    for name, words in (("stanford_cars", "cars_train/"), ("nabirds", "Cornell Lab"),
                        ("cassava", "kaggle")):
        with pytest.raises(catalog.DataMissingError, match=words):
            catalog.prepare(name, root=tmp_path)
        assert str(tmp_path / name) in catalog.info(name, root=tmp_path)["how_to_get"]


def test_prepare_cub_downloads_verifies_and_extracts(tmp_path, monkeypatch):
    archive = fakes.fake_cub_archive(tmp_path / "server")
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    with serve(tmp_path / "server") as url:
        fetch = lambda folder: catalog.cub.fetch(folder, url + archive.name, md5)  # noqa: E731
        entry = dataclasses.replace(catalog.SPECS["cub200"], fetch=fetch, num_classes=3,
                                    counts={"train": 6, "test": 6})
        monkeypatch.setitem(catalog.SPECS, "cub200", entry)
        result = catalog.prepare("cub200", root=tmp_path / "data")
    assert result["prepared"] and result["num_classes"] == 3
    assert result["splits"] == {"train": 3, "val": 3, "test": 6, "unlabelled": 3}  # >= 1 per class
    folder = tmp_path / "data" / "cub200"
    assert (folder / "attributes.txt").is_file()  # beside the folder, as in the real archive
    assert not (folder / "CUB_200_2011.tgz").exists()  # archive removed after extraction
    train = catalog.dataset("cub200", "train", root=tmp_path / "data")
    image, label = train[0]
    assert image.mode == "RGB" and label in (0, 1, 2)


def test_wrong_counts_are_a_clear_error(tmp_path):
    fakes.fake_cars(tmp_path / "stanford_cars")
    with pytest.raises(DataFormatError, match="expected 196 classes, found 2"):
        catalog.prepare("stanford_cars", root=tmp_path)


def test_counts_are_verified_per_split(tmp_path, monkeypatch):
    fakes.fake_cars(tmp_path / "stanford_cars")
    entry = dataclasses.replace(catalog.SPECS["stanford_cars"], num_classes=2)
    monkeypatch.setitem(catalog.SPECS, "stanford_cars", entry)
    with pytest.raises(DataFormatError, match="expected 8,144 train images, found 4"):
        catalog.prepare("stanford_cars", root=tmp_path)


def _labelled_folder(root, classes=("a", "b", "c"), per_class=10):
    for c in classes:
        for k in range(per_class):
            write_jpeg(root / c / f"{k}.jpg", seed=k)


def test_folder_dataset_gets_fixed_stratified_splits(tmp_path):
    _labelled_folder(tmp_path / "mine")
    result = catalog.prepare("folder", root=tmp_path / "mine")
    assert result["splits"] == {"train": 21, "val": 3, "test": 6, "unlabelled": 21}
    found = catalog.collection("folder", tmp_path / "mine")[0]
    split_file = catalog.derived_folder(found) / "fgssl_splits_seed0.json"
    saved = json.loads(split_file.read_text())
    again = catalog.collection("folder", tmp_path / "mine")[1]
    assert [r.path for r in again["test"]] == [r["path"] for r in saved["splits"]["test"]]
    test_paths = {r.path for r in again["test"]}
    assert not test_paths & {r.path for r in again["train"]}
    assert not test_paths & {r.path for r in again["unlabelled"]}


def test_unreadable_images_are_skipped_with_one_warning_never_replaced(tmp_path):
    _labelled_folder(tmp_path / "mine")
    write_broken_images(tmp_path / "mine" / "b")
    with pytest.warns(DataWarning, match=r"skipped 3 unreadable images.*b/corrupt.jpg"):
        found, splits = catalog.collection("folder", tmp_path / "mine")
    every = [r for s in ("train", "val", "test") for r in splits[s]]
    assert len(every) == 30 and not any("corrupt" in r.path for r in every)
    # the check is kept in fgssl's own folder for the dataset, keyed by the files
    checked = json.loads((catalog.derived_folder(found) / catalog.CHECK_FILE).read_text())
    assert sorted(checked["unreadable"]) == ["b/corrupt.jpg", "b/empty.png", "b/truncated.jpg"]


def test_a_class_of_unreadable_images_is_an_error_like_an_empty_class(tmp_path):
    _labelled_folder(tmp_path / "mine")
    write_broken_images(tmp_path / "mine" / "d")
    with pytest.warns(DataWarning, match="skipped 3 unreadable"), \
            pytest.raises(DataFormatError, match=r"class folder .*mine/d has no readable images: "
                                                 r"add images or remove the folder"):
        catalog.info("folder", tmp_path / "mine")


def test_cached_real_dataset_is_uint8_at_the_requested_size(tmp_path, monkeypatch):
    _labelled_folder(tmp_path / "mine")
    test = catalog.dataset("folder", "test", root=tmp_path / "mine", size=12)
    image, _ = test[0]
    assert image.shape == (3, 12, 12) and image.dtype == torch.uint8
    assert test.images.shape == (6, 12, 12, 3)
    assert sorted(np.bincount(test.labels)) == [2, 2, 2]
    derived = catalog.derived_folder(catalog.collection("folder", tmp_path / "mine")[0])
    assert sorted(p.name for p in derived.glob("test_12px_seed0.*")) == \
        ["test_12px_seed0.json", "test_12px_seed0.npy"]
    decoded = []
    monkeypatch.setattr(catalog, "load_rgb", lambda *args: decoded.append(args))
    again = catalog.dataset("folder", "test", root=tmp_path / "mine", size=12)
    assert decoded == [] and np.array_equal(again.images, test.images)  # decoded once


def test_derived_files_live_under_the_data_root_one_folder_per_dataset_folder(tmp_path):
    _labelled_folder(tmp_path / "mine")
    _labelled_folder(tmp_path / "elsewhere" / "mine", classes=("x", "y"))
    first = catalog.derived_folder(catalog.collection("folder", tmp_path / "mine")[0])
    other = catalog.collection("folder", tmp_path / "elsewhere" / "mine")[0]
    second = catalog.derived_folder(other)
    assert first.parent == second.parent == data_root() / "derived" and first != second
    assert first.name.startswith("mine-") and second.name.startswith("mine-")
    via_link = tmp_path / "link"
    via_link.symlink_to(tmp_path / "mine")
    assert catalog.derived_folder(catalog.collection("folder", via_link)[0]) == first


def test_an_image_replaced_under_the_same_name_gives_fresh_pixels_and_a_new_identity(tmp_path):
    _labelled_folder(tmp_path / "mine")
    before = catalog.identity("folder", tmp_path / "mine")
    test = catalog.dataset("folder", "test", root=tmp_path / "mine", size=12)
    first_test = catalog.collection("folder", tmp_path / "mine")[1]["test"][0]
    replaced = tmp_path / "mine" / first_test.path
    write_jpeg(replaced, seed=99)  # same name, new pixels
    after = catalog.identity("folder", tmp_path / "mine")
    again = catalog.dataset("folder", "test", root=tmp_path / "mine", size=12)
    assert after.location == before.location and after.content != before.content
    assert not np.array_equal(again.images[0], test.images[0])
    assert np.array_equal(again.images[1:], test.images[1:])


def test_identity_is_the_folder_and_its_bytes_not_its_name_or_times(tmp_path):
    _labelled_folder(tmp_path / "a" / "mine")
    _labelled_folder(tmp_path / "b" / "mine")
    first, second = (catalog.identity("folder", tmp_path / x / "mine") for x in ("a", "b"))
    assert first.content == second.content and first.location != second.location
    keys = [catalog.data_key("folder", tmp_path / x / "mine") for x in ("a", "b")]
    assert keys[0] != keys[1] and keys[0].startswith("folder-mine-")
    (tmp_path / "link").symlink_to(tmp_path / "a" / "mine")
    assert catalog.identity("folder", tmp_path / "link") == first
    for path in (tmp_path / "a" / "mine").rglob("*.jpg"):  # a copy back from Drive: new times
        os.utime(path, ns=(1, 1))
    assert catalog.identity("folder", tmp_path / "a" / "mine") == first
    assert catalog.data_key("synthbirds") == "synthbirds"
    assert catalog.data_key("folder", tmp_path / "link") == keys[0]


def test_labelled_and_unlabelled_images_together(tmp_path):
    _labelled_folder(tmp_path / "mine")
    for k in range(40):
        write_jpeg(tmp_path / "mine" / "unlabelled" / f"batch{k % 2}" / f"{k}.jpg", seed=100 + k)
    write_jpeg(tmp_path / "mine" / "loose.jpg", seed=7)
    result = catalog.info("folder", root=tmp_path / "mine")
    assert result["classes"] == ["a", "b", "c"]  # unlabelled/ is not a class
    assert result["splits"] == {"train": 21, "val": 3, "test": 6, "unlabelled": 21 + 41}
    assert result["unlabelled_only"] == 41
    _, splits = catalog.collection("folder", tmp_path / "mine")
    pool = {r.path for r in splits["unlabelled"]}
    assert {r.path for r in splits["train"]} < pool and "unlabelled/batch1/1.jpg" in pool
    assert not pool & {r.path for s in ("val", "test") for r in splits[s]}


def test_train_and_val_folders_without_test_are_tested_on_val(tmp_path):
    for split, count in (("train", 10), ("val", 3)):
        for c in ("a", "b"):
            for k in range(count):
                write_jpeg(tmp_path / "mine" / split / c / f"{k}.jpg", seed=k)
    _, splits = catalog.collection("folder", tmp_path / "mine")
    assert {r.path.split("/")[0] for r in splits["test"]} == {"val"} and len(splits["test"]) == 6
    assert len(splits["train"]) + len(splits["val"]) == 20
    assert {r.path.split("/")[0] for r in splits["val"]} == {"train"}


def test_synthbirds_dataset_follows_the_profile(tmp_path):
    train = catalog.dataset("synthbirds", "train", root=tmp_path, profile="ci")
    assert len(train) == 8 * NUM_CLASSES
    image, label = train[3]
    assert image.shape == (3, 32, 32) and image.dtype == torch.uint8 and label == 3
    pool = catalog.dataset("synthbirds", "unlabelled", root=tmp_path, profile="ci")
    assert set(pool.labels.tolist()) == {-1}
    larger = catalog.dataset("synthbirds", "val", root=tmp_path, profile="ci", size=48)
    assert larger[0][0].shape == (3, 48, 48)
    with pytest.raises(ValueError, match="unknown split"):
        catalog.dataset("synthbirds", "training", root=tmp_path)


def test_synthbirds_info_has_the_contract_keys():
    result = catalog.info("synthbirds", profile="cpu")
    assert result["num_classes"] == 24
    assert result["splits"] == {"train": 2400, "val": 600, "test": 1200, "unlabelled": 10_000}


def test_own_root_datasets_need_a_root():
    with pytest.raises(ValueError, match="needs --root"):
        catalog.info("folder")


def test_cub_boxes_and_parts_follow_the_images_into_the_cache(tmp_path, monkeypatch):
    fakes.fake_cub(tmp_path / "cub200")  # 40 x 30 images, box (1, 2, 30, 20), two parts
    monkeypatch.setitem(catalog.SPECS, "cub200", dataclasses.replace(
        catalog.SPECS["cub200"], num_classes=3, counts={"train": 6, "test": 6}))
    found = catalog.annotations("cub200", "test", root=tmp_path, size=15)
    assert found.part_names == ["beak", "left eye"]
    # the shorter side 30 -> 15: the image becomes 20 x 15, and the crop starts at x = 2
    assert np.allclose(found.boxes, [[0.0, 1.0, 13.5, 11.0]] * 6)  # clipped at the left edge
    assert np.allclose(found.parts[:, 0], [[0.5, 1.5, 1.0]] * 6)  # (5, 3), visible
    assert np.allclose(found.parts[:, 1], [[3.0, 3.0, 0.0]] * 6)  # (10, 6), not visible
    images = catalog.dataset("cub200", "test", root=tmp_path, size=15)
    assert len(images) == len(found.boxes) and images[0][0].shape == (3, 15, 15)
    with pytest.raises(ValueError, match="SynthBirds' boxes and keypoints come with"):
        catalog.annotations("synthbirds", "test")


def test_a_file_given_as_the_folder_is_a_clear_error(tmp_path):
    (tmp_path / "photo.jpg").write_text("")
    with pytest.raises(DataFormatError, match=r"photo\.jpg is not a folder: point --root at"):
        catalog.info("folder", tmp_path / "photo.jpg")
