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
