import pytest

from fgssl.data import cub, sources
from fgssl.data.folders import DataFormatError
from tests import fakes


def test_cub_reads_official_split_boxes_and_parts(tmp_path):
    fakes.fake_cub(tmp_path)
    found = cub.read(tmp_path)
    assert found.classes == ["001.Bird_1", "002.Bird_2", "003.Bird_3"]
    assert len(found.splits["train"]) == 6 and len(found.splits["test"]) == 6
    first = found.splits["train"][0]
    assert first.path == "images/001.Bird_1/001.Bird_1_0.jpg" and first.label == 0
    assert first.box == (1.0, 2.0, 30.0, 20.0)
    assert found.part_names == ["beak", "left eye"]
    assert found.parts[first.path].tolist() == [[5.0, 3.0, 1.0], [10.0, 6.0, 0.0]]


def test_flowers_labels_become_zero_based(tmp_path):
    fakes.fake_flowers(tmp_path)
    found = sources.read_flowers102(tmp_path)
    assert [r.label for r in found.splits["train"]] == [0, 1, 2]
    assert found.splits["test"][0].path == "jpg/image_00007.jpg"
    assert len(found.classes) == 102


def test_aircraft_variants_with_slashes_and_banner(tmp_path):
    fakes.fake_aircraft(tmp_path)
    found = sources.read_fgvc_aircraft(tmp_path)
    assert found.classes == ["707-320", "A300B4", "F/A-18"]
    assert found.trim_bottom == 20
    assert [r.label for r in found.splits["val"]] == [0, 1, 2]


def test_aircraft_unknown_variant_is_an_error(tmp_path):
    fakes.fake_aircraft(tmp_path)
    data = tmp_path / "fgvc-aircraft-2013b" / "data"
    (data / "images_variant_test.txt").write_text("1 Concorde\n")
    with pytest.raises(DataFormatError, match="unknown variants"):
        sources.read_fgvc_aircraft(tmp_path)


def test_cars_reads_mat_annotations(tmp_path):
    fakes.fake_cars(tmp_path)
    found = sources.read_stanford_cars(tmp_path)
    assert found.classes == ["AM General Hummer SUV 2000", "Audi R8 Coupe 2012"]
    assert [r.label for r in found.splits["train"]] == [0, 1, 0, 1]
    assert found.splits["test"][1].path == "cars_test/00001.jpg"
    assert found.splits["train"][0].box == (1.0, 2.0, 19.0, 10.0)


def test_dogs_reads_lists(tmp_path):
    fakes.fake_dogs(tmp_path)
    found = sources.read_stanford_dogs(tmp_path)
    assert found.classes == ["Chihuahua", "Japanese_spaniel"]
    assert [r.label for r in found.splits["test"]] == [0, 0, 1, 1]
    assert found.splits["train"][0].path.startswith("Images/n02085620-Chihuahua/")


def test_nabirds_uuid_ids_and_sparse_class_ids(tmp_path):
    fakes.fake_nabirds(tmp_path)
    found = sources.read_nabirds(tmp_path)
    assert found.classes == ["Ruddy Duck", "Mallard (Male)", "Wood Duck (Female/juvenile)"]
    labels = sorted({r.label for s in found.splits.values() for r in s})
    assert labels == [0, 1, 2]


def test_cassava_2019_folders_and_extra_images(tmp_path):
    fakes.fake_cassava_2019(tmp_path)
    found = sources.read_cassava(tmp_path)
    assert found.classes == sources.CASSAVA_CLASSES
    assert len(found.splits["all"]) == 25 and len(found.splits["unlabelled"]) == 3
    assert found.splits["all"][0].path == "train/cbb/train-cbb-0.jpg"
    assert found.splits["unlabelled"][0].path.startswith("extraimages/")


def test_cassava_2020_csv(tmp_path):
    fakes.fake_cassava_2020(tmp_path)
    found = sources.read_cassava(tmp_path)
    assert [r.label for r in found.splits["all"]][:6] == [0, 1, 2, 3, 4, 0]
    (tmp_path / "train.csv").write_text("id,class\n1.jpg,0\n")
    with pytest.raises(DataFormatError, match="image_id,label"):
        sources.read_cassava(tmp_path)


def test_cassava_wrong_class_folders(tmp_path):
    fakes.fake_cassava_2019(tmp_path, per_class=1)
    (tmp_path / "train" / "cbb").rename(tmp_path / "train" / "blight")
    with pytest.raises(DataFormatError, match="expected class folders"):
        sources.read_cassava(tmp_path)


def test_torchvision_download_failure_is_a_connection_error(tmp_path):
    class Offline:
        def __init__(self, root, split, download):
            raise RuntimeError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    with pytest.raises(ConnectionError, match=r"could not download Offline.*internet"):
        sources._torchvision_download(Offline, tmp_path)
