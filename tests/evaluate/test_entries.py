from pathlib import Path

import pytest

from fgssl.evaluate import entries


def test_units_group_the_entries_that_share_a_training_longest_first():
    assert set(entries.LONGEST_FIRST) == set(entries.ENTRIES)
    units = entries.units_for(["random", "srgan-g", "random-srgan-d", "jigsaw", "srgan-d"])
    assert [unit.entries for unit in units] == [("srgan-d", "srgan-g"), ("jigsaw",),
                                                ("random-srgan-d",), ("random",)]
    assert [unit.training for unit in units] == ["srgan", "jigsaw", None, None]


def test_entries_are_checked_and_put_in_the_studys_order():
    with pytest.raises(ValueError, match="unknown --methods moco: choose from simclr"):
        entries.check_entries(["simclr", "moco"])
    assert entries.check_entries(["random", "simclr"]) == ["simclr", "random"]
    default = entries.check_entries(None)
    assert default == [e for e in entries.ENTRIES if e not in ("pmg", "pmg-imagenet")]
    assert entries.check_entries(["pmg", "scratch"]) == ["scratch", "pmg"]  # opt-in by name


def test_end_to_end_entries_train_their_own_recipe_on_the_chosen_budgets(tmp_path):
    settings = entries.Settings(None, "synthbirds", None, (1.0, 0.3, 0.1), 2, tmp_path,
                                end_to_end_at=(1.0, 0.1))
    for entry in ("scratch", "pmg", "pmg-imagenet"):
        jobs = entries._jobs(entry, settings)
        assert {(j.protocol, j.labels) for j in jobs} == {("finetune", 1.0), ("finetune", 0.1)}
        assert len(jobs) == 4  # two seeds each
    assert entries.END_TO_END["pmg"].head == "pmg"
    assert entries.END_TO_END["pmg"].backbone_lr_factor == 1.0  # from scratch
    assert entries.END_TO_END["pmg-imagenet"].backbone_lr_factor == 0.1  # pretrained
    assert entries.END_TO_END["scratch"].epochs_of == "supervised"  # not fine-tuning's
    frozen = {(j.protocol, j.labels) for j in entries._jobs("simclr", settings)}
    assert ("finetune", 1.0) not in frozen and ("linear", 0.3) in frozen


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
