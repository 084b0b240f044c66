import warnings

import numpy as np
import pytest
import torch

from fgssl.data.folders import (
    DataFormatError,
    DataWarning,
    ImageRecords,
    load_rgb,
    read_cub_format,
    read_image_folder,
    to_rgb,
    unreadable,
)
from tests.images import write_broken_images, write_jpeg, write_odd_images


def test_odd_images_convert_to_rgb(tmp_path):
    paths = write_odd_images(tmp_path)
    for name, path in paths.items():
        image = load_rgb(path)
        assert image.mode == "RGB" and image.size == (24, 16), name
    assert np.all(np.asarray(load_rgb(paths["rgba"])) == 255)  # transparent over white
    assert np.all(np.asarray(load_rgb(paths["16bit"])) == 255)  # 16-bit full scale -> 255
    gray = np.asarray(load_rgb(paths["gray"]))
    assert np.array_equal(gray[..., 0], gray[..., 2])


def test_trim_bottom_crops_the_banner(tmp_path):
    path = write_jpeg(tmp_path / "plane.jpg", size=(40, 50))
    assert load_rgb(path, trim_bottom=20).size == (40, 30)


def test_broken_images_are_found(tmp_path):
    from fgssl.data.folders import Record

    broken = write_broken_images(tmp_path)
    write_jpeg(tmp_path / "good.jpg")
    records = [Record(p.name, 0) for p in broken.values()] + [Record("good.jpg", 0),
                                                             Record("missing.jpg", 0)]
    assert sorted(unreadable(tmp_path, records)) == sorted(
        [p.name for p in broken.values()] + ["missing.jpg"])


def test_class_folders_skip_non_images_with_one_warning(tmp_path):
    for k in range(3):
        write_jpeg(tmp_path / "alpha" / f"{k}.jpg", seed=k)
        write_jpeg(tmp_path / "beta" / "nested" / f"{k}.jpg", seed=10 + k)
    (tmp_path / "alpha" / "notes.txt").write_text("not an image")
    (tmp_path / "beta" / "Thumbs.db").write_bytes(b"\0")
    with pytest.warns(DataWarning, match=r"skipped 2 non-image files: alpha/notes.txt, "
                                         r"beta/Thumbs.db"):
        found = read_image_folder(tmp_path)
    assert found.classes == ["alpha", "beta"]
    assert [r.label for r in found.splits["all"]] == [0, 0, 0, 1, 1, 1]
    assert found.splits["all"][3].path == "beta/nested/0.jpg"


def test_empty_class_folder_is_an_error(tmp_path):
    write_jpeg(tmp_path / "alpha" / "0.jpg")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match=r"class folder .*empty has no readable images: "
                                              r"add images or remove the folder"):
        read_image_folder(tmp_path)


def test_split_folders_and_unlabelled_folders(tmp_path):
    for split in ("train", "test"):
        for cls in ("a", "b"):
            write_jpeg(tmp_path / "split" / split / cls / "0.jpg")
    found = read_image_folder(tmp_path / "split")
    assert set(found.splits) == {"train", "test"} and found.classes == ["a", "b"]
    for k in range(2):
        write_jpeg(tmp_path / "flat" / f"{k}.jpg")
    flat = read_image_folder(tmp_path / "flat")
    assert [r.label for r in flat.splits["unlabelled"]] == [-1, -1]
    with pytest.raises(DataFormatError, match="not a folder"):
        read_image_folder(tmp_path / "nowhere")
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DataFormatError, match="no images found"):
        read_image_folder(tmp_path / "nothing")


def test_image_records_dataset_returns_rgb_and_labels(tmp_path):
    write_jpeg(tmp_path / "a" / "0.jpg")
    write_odd_images(tmp_path / "b")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # odd but readable images are not "skipped"
        found = read_image_folder(tmp_path)
    data = ImageRecords(found, found.splits["all"], transform=lambda im: torch.tensor(im.size))
    assert len(data) == 6
    assert all(tuple(data[i][0].tolist()) == (24, 16) for i in range(len(data)))
    assert [data[i][1] for i in range(len(data))] == [0, 1, 1, 1, 1, 1]


def _cub_files(root, images, labels, split, classes=None, boxes=None):
    root.mkdir(parents=True, exist_ok=True)
    (root / "images.txt").write_text("".join(f"{i} {p}\n" for i, p in images))
    (root / "image_class_labels.txt").write_text("".join(f"{i} {c}\n" for i, c in labels))
    (root / "train_test_split.txt").write_text("".join(f"{i} {s}\n" for i, s in split))
    if classes:
        (root / "classes.txt").write_text("".join(f"{c} {n}\n" for c, n in classes))
    if boxes:
        (root / "bounding_boxes.txt").write_text("".join(f"{i} {b}\n" for i, b in boxes))


def test_cub_format_reads_labels_splits_boxes_and_remaps_class_ids(tmp_path):
    images = [("u1", "x/1.jpg"), ("u2", "y/2 with space.jpg"), ("u3", "x/3.jpg")]
    _cub_files(tmp_path, images, [("u1", 7), ("u2", 42), ("u3", 7)],
               [("u1", 1), ("u2", 0), ("u3", 1)], classes=[(7, "Seven sparrow"), (42, "Wren")],
               boxes=[("u1", "1 2 3 4"), ("u2", "5 6 7 8"), ("u3", "0 0 1 1")])
    found = read_cub_format(tmp_path)
    assert found.classes == ["Seven sparrow", "Wren"]
    assert [(r.path, r.label) for r in found.splits["train"]] == [("images/x/1.jpg", 0),
                                                                  ("images/x/3.jpg", 0)]
    assert found.splits["test"][0].path == "images/y/2 with space.jpg"
    assert found.splits["test"][0].label == 1 and found.splits["test"][0].box == (5, 6, 7, 8)


@pytest.mark.parametrize("broken, message", [
    ("images", "images.txt:2: expected 2 fields"),
    ("duplicate", "id 1 appears twice"),
    ("missing_label", "no line for image id 2"),
    ("bad_label", "malformed metadata"),
    ("bad_flag", "malformed metadata"),
])
def test_cub_format_metadata_errors_name_the_file_and_line(tmp_path, broken, message):
    images = [("1", "a.jpg"), ("2", "b.jpg")]
    labels, split = [("1", 1), ("2", 2)], [("1", 1), ("2", 0)]
    if broken == "images":
        images[1] = ("2", "")
    elif broken == "duplicate":
        labels.append(("1", 2))
    elif broken == "missing_label":
        labels = labels[:1]
    elif broken == "bad_label":
        labels[1] = ("2", "two")
    else:
        split[1] = ("2", 3)
    _cub_files(tmp_path, images, labels, split)
    with pytest.raises(DataFormatError, match=message):
        read_cub_format(tmp_path)


def test_cub_format_missing_file_is_an_error(tmp_path):
    _cub_files(tmp_path, [("1", "a.jpg")], [("1", 1)], [("1", 1)])
    (tmp_path / "train_test_split.txt").unlink()
    with pytest.raises(DataFormatError, match=r"missing metadata file .*train_test_split.txt"):
        read_cub_format(tmp_path)


def test_to_rgb_keeps_rgb_images_untouched():
    from tests.images import rgb_image

    image = rgb_image(3)
    assert np.array_equal(np.asarray(to_rgb(image)), np.asarray(image))
