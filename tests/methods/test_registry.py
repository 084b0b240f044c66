import pytest
import torch

from fgssl.config import profile, runs_root
from fgssl.methods.registry import (
    backbone_for,
    build_method,
    load_or_train,
    method_from_checkpoint,
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
    with pytest.raises(ValueError, match="choose one of simclr, supervised"):
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
