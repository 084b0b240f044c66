import pytest

from fgssl.methods import registry
from fgssl.methods.about import Entry
from fgssl.methods.base import Method
from fgssl.study.entries import (
    best_self_supervised,
    check_entries,
    describe,
    learned_without_labels,
    study_entries,
)

ORDER = ["simclr", "simclr-object_crop", "jigsaw", "srgan-d", "srgan-g", "random-srgan-d",
         "byol", "simsiam", "vicreg", "dino", "supervised", "scratch", "pmg", "pmg-imagenet",
         "random", "imagenet"]
OPT_IN = ("simclr", "byol", "simsiam", "vicreg", "dino", "pmg", "pmg-imagenet")


def test_the_table_is_each_registered_method_s_entries_then_the_baselines():
    table = study_entries()
    assert list(table) == ORDER
    assert table["srgan-g"].method == "srgan" and table["random"].method is None
    assert table["simclr-object_crop"].pretraining == "simclr variant=object_crop"
    assert table["srgan-d"].pretraining == table["srgan-g"].pretraining == "srgan"
    for untrained in ("random", "random-srgan-d", "scratch", "pmg-imagenet", "imagenet"):
        assert table[untrained].pretraining is None, untrained
    assert describe("majority class").startswith("always the most frequent class")


def test_entries_are_checked_and_put_in_the_study_s_order():
    with pytest.raises(ValueError, match="unknown --methods no_such_method: choose from simclr"):
        check_entries(["simclr", "no_such_method"])
    assert check_entries(["random", "simclr"]) == ["simclr", "random"]
    assert check_entries(None) == [e for e in ORDER if e not in OPT_IN]
    assert check_entries(["pmg", "scratch"]) == ["scratch", "pmg"]  # opt-in by name
    assert check_entries(["vicreg", "default"]) == [e for e in ORDER if e not in OPT_IN
                                                    or e == "vicreg"]


def test_a_method_registered_at_run_time_brings_its_entries_and_a_clash_is_refused():
    class Extra(Method):
        name = "extra"
        entries = (Entry("extra", "an extra method"),)

    registry.register(Extra)
    try:
        assert list(study_entries())[-3:] == ["extra", "random", "imagenet"]
        Extra.entries = (Entry("random", "a second random"),)
        with pytest.raises(ValueError, match="two study entries are called 'random'"):
            study_entries()
    finally:
        registry.unregister(Extra)


def test_the_self_supervised_rows_are_those_trained_without_labels():
    assert [name for name in ORDER if learned_without_labels(name)] == [
        "simclr", "simclr-object_crop", "jigsaw", "srgan-d", "srgan-g", "byol", "simsiam",
        "vicreg", "dino"]  # not random-srgan-d (untrained), supervised, scratch, PMG, baselines


def test_the_best_self_supervised_row_is_read_from_the_linear_probe_on_all_labels():
    def row(method, top1, protocol="linear", labels=1.0):
        return {"method": method, "protocol": protocol, "labels": labels, "top1_mean": top1}

    rows = [row("supervised", 0.9), row("vicreg", 0.4), row("simclr-object_crop", 0.5),
            row("jigsaw", 0.8, protocol="knn"), row("srgan-d", 0.7, labels=0.1)]
    assert best_self_supervised(rows) == "simclr-object_crop"
    with pytest.raises(ValueError, match="no self-supervised row: run it with one in --methods"):
        best_self_supervised([row("supervised", 0.9), row("random", 0.1)])
