from pathlib import Path

import pytest

from fgssl.evaluate import entries


def test_units_group_the_entries_that_share_a_training_longest_first():
    assert set(entries.LONGEST_FIRST) == set(entries.ENTRIES)
    units = entries.units_for(["random", "srgan-g", "jigsaw", "srgan-d"])
    assert [unit.entries for unit in units] == [("srgan-d", "srgan-g"), ("jigsaw",),
                                                ("random",)]
    assert [unit.training for unit in units] == ["srgan", "jigsaw", None]


def test_entries_are_checked_and_put_in_the_studys_order():
    with pytest.raises(ValueError, match="unknown --methods moco: choose from simclr"):
        entries.check_entries(["simclr", "moco"])
    assert entries.check_entries(["random", "simclr"]) == ["simclr", "random"]
    assert entries.check_entries(None) == list(entries.ENTRIES)


def test_saved_evaluations_are_keyed_by_the_code_that_computed_them(tmp_path):
    package = Path(entries.__file__).parents[1]
    for pattern in entries.EVALUATION_CODE:  # every pattern names real files
        assert list(package.glob(pattern)), pattern
    (tmp_path / "viz").mkdir()
    (tmp_path / "viz" / "cam.py").write_text("threshold = 1\n")
    (tmp_path / "cli.py").write_text("print('hello')\n")
    before = entries.code_fingerprint(("viz/cam.py",), tmp_path)
    (tmp_path / "cli.py").write_text("print('bye')\n")  # not evaluation code
    assert entries.code_fingerprint(("viz/cam.py",), tmp_path) == before
    (tmp_path / "viz" / "cam.py").write_text("threshold = 2\n")
    assert entries.code_fingerprint(("viz/cam.py",), tmp_path) != before
