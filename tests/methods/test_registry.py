import pytest
import torch

from fgssl.config import profile, runs_root
from fgssl.methods.registry import (
    backbone_for,
    build_method,
    default_out,
    load_or_train,
    method_from_checkpoint,
    method_names,
    settings_added_since,
)


def test_load_or_train_trains_once_then_loads():
    first = load_or_train("simclr", "ci", epochs=1, progress=False)
    runs = list(runs_root().glob("ci/synthbirds/simclr-standard-seed0/checkpoint.pt"))
    assert len(runs) == 1
    again = load_or_train("simclr", "ci", epochs=1, progress=False)
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name]), name
    rebuilt = method_from_checkpoint(runs[0].parent)
    assert rebuilt.config() == first.config()


def test_random_backbone_is_seeded():
    prof = profile("ci")
    _, a = backbone_for("random", prof, seed=1)
    _, b = backbone_for("random", prof, seed=1)
    _, c = backbone_for("random", prof, seed=2)
    weight = next(a.parameters())
    assert torch.equal(weight, next(b.parameters()))
    assert not torch.equal(weight, next(c.parameters()))


def test_build_method_errors():
    with pytest.raises(ValueError, match="choose one of simclr, jigsaw, srgan, supervised"):
        build_method("byol", profile("ci"))
    with pytest.raises(ValueError, match="number of classes"):
        build_method("supervised", profile("ci"))


def test_a_label_budget_is_repeated_to_a_full_epoch():
    from fgssl.methods.registry import training_data

    prof = profile("ci")
    full = training_data("supervised", "synthbirds", prof, None, 1.0, seed=0)
    budget = training_data("supervised", "synthbirds", prof, None, 0.25, seed=0)
    assert len(budget) == len(full) == 192
    unique = sorted(set(budget.indices))
    assert len(unique) == 48  # 2 of the 8 images of each of the 24 species
    labels = [full.labels[i] for i in unique]
    assert sorted(labels) == sorted(list(range(24)) * 2)
    pool = training_data("simclr", "synthbirds", prof, None, 0.25, seed=0)
    assert len(pool) == prof.n_unlabelled  # SSL ignores the budget


def test_a_trained_method_knows_its_history_and_off_profile_epochs_get_their_own_run():
    trained = load_or_train("simclr", "ci", epochs=2, progress=False)
    assert [r["epoch"] for r in trained.history] == [1, 2]
    run = runs_root() / "ci" / "synthbirds" / "simclr-standard-epochs=2-seed0"
    assert method_from_checkpoint(run).history == trained.history
    assert default_out("simclr", profile("ci"), "synthbirds", epochs=1).name == \
        "simclr-standard-seed0"  # the profile's own schedule keeps the plain name


def test_a_checkpoint_from_another_architecture_is_a_clear_error(tmp_path):
    from fgssl.train import CHECKPOINT
    from fgssl.utils import atomic_save, load_checkpoint

    trained = load_or_train("simclr", "ci", epochs=1, progress=False)
    run = runs_root() / "ci" / "synthbirds" / "simclr-standard-seed0"
    state = load_checkpoint(run / CHECKPOINT)
    state["model"]["backbone.features.0.0.weight"] = torch.zeros(7, 3, 3, 3)
    atomic_save(state, tmp_path / CHECKPOINT)
    with pytest.raises(ValueError, match="another version of fgssl's simclr"):
        method_from_checkpoint(tmp_path)
    assert trained.history


def test_a_run_saved_before_a_setting_existed_is_not_reused_as_if_it_had_it():
    from fgssl.train import CHECKPOINT
    from fgssl.utils import atomic_save, load_checkpoint

    load_or_train("simclr", "ci", epochs=1, progress=False)
    run = runs_root() / "ci" / "synthbirds" / "simclr-standard-seed0"
    state = load_checkpoint(run / CHECKPOINT)
    del state["config"]["temperature"]  # as if saved before SimCLR had that setting
    atomic_save(state, run / CHECKPOINT)
    with pytest.raises(ValueError, match=r"before simclr had the settings it has now "
                                         r"\(temperature\), so it is not.*delete that folder"):
        load_or_train("simclr", "ci", epochs=1, progress=False)
    saved = load_checkpoint(run / CHECKPOINT)  # kept as it was: nothing lost
    assert saved["config"] == state["config"] and saved["epoch"] == state["epoch"]
    assert method_from_checkpoint(run).config()["temperature"] == 0.2  # still evaluable
    assert settings_added_since({"method": "byol", "config": {}}) == []  # loading says why


@pytest.mark.parametrize("name", method_names())
def test_a_fresh_checkpoint_records_every_setting_of_its_method(name):
    options = {"content": "features"} if name == "srgan" else {}  # no notice about VGG
    method = build_method(name, profile("ci"), num_classes=3, **options)
    assert settings_added_since({"method": name, "config": method.config()}) == []


def test_load_or_train_is_exported_at_the_top_level():
    import fgssl

    assert fgssl.load_or_train is load_or_train
    with pytest.raises(AttributeError, match="no attribute 'train_everything'"):
        fgssl.train_everything  # noqa: B018
