import pytest

from fgssl.data import catalog
from fgssl.data.example_folders import write_example_folder
from fgssl.data.synthbirds import SPECIES_NAMES


def test_an_example_folder_has_the_species_counts_and_layout_asked_for(tmp_path):
    root = write_example_folder(tmp_path / "mine", species=4, per_species=5, unlabelled=7,
                                size=24)
    assert sorted(p.name for p in root.iterdir()) == sorted([*SPECIES_NAMES[:4], "unlabelled"])
    assert [len(list((root / name).glob("*.png"))) for name in SPECIES_NAMES[:4]] == [5] * 4
    assert len(list((root / "unlabelled").glob("*.png"))) == 7
    info = catalog.info("folder", root)
    assert info["num_classes"] == 4 and info["unlabelled_only"] == 7


def test_an_example_folder_never_overwrites_files(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="already holds files: choose an empty"):
        write_example_folder(tmp_path / "mine", species=2, per_species=1)
    assert (tmp_path / "mine" / "keep.txt").read_text() == "mine"
