import pytest
import torch

from fgssl.config import profile, runs_root
from fgssl.methods.checkpoints import (
    defaults_changed_since,
    method_from_checkpoint,
    settings_added_since,
)
from fgssl.methods.registry import method_classes
from fgssl.study.runs import load_or_train
from fgssl.utils import CHECKPOINT, atomic_save, load_checkpoint


def _simclr_run():
    trained = load_or_train("simclr", "ci", epochs=1, progress_bar=False)
    return trained, runs_root() / "ci" / "synthbirds" / "simclr-seed0"


def test_a_checkpoint_comes_back_as_the_method_that_trained():
    trained, run = _simclr_run()
    rebuilt = method_from_checkpoint(run)
    assert type(rebuilt) is type(trained) and rebuilt.config() == trained.config()
    assert rebuilt.history == trained.history
    for name, tensor in trained.state_dict().items():
        assert torch.equal(tensor, rebuilt.state_dict()[name]), name


def test_a_checkpoint_from_another_architecture_is_a_clear_error(tmp_path):
    _, run = _simclr_run()
    state = load_checkpoint(run / CHECKPOINT)
    state["model"]["backbone.features.0.0.weight"] = torch.zeros(7, 3, 3, 3)
    atomic_save(state, tmp_path / CHECKPOINT)
    with pytest.raises(ValueError, match="another version of fgssl's simclr"):
        method_from_checkpoint(tmp_path)
    state["method"] = "no_such_method"
    atomic_save(state, tmp_path / CHECKPOINT)
    with pytest.raises(ValueError, match=r"of .no_such_method., a method this fgssl does not have"):
        method_from_checkpoint(tmp_path)


def test_settings_added_since_a_checkpoint_are_found():
    trained, _ = _simclr_run()
    config = trained.config()
    del config["temperature"]
    assert settings_added_since({"method": "simclr", "config": config}) == ["temperature"]
    unknown = {"method": "no_such_method", "config": {}}
    assert settings_added_since(unknown) == []  # loading it says why


def test_defaults_changed_since_a_checkpoint_are_found_unless_asked_for():
    trained, _ = _simclr_run()
    config = {**trained.config(), "temperature": 0.5, "image_size": 64}
    state = {"method": "simclr", "config": config}
    assert defaults_changed_since(state) == {"temperature": (0.5, 0.2)}  # not the profile's size
    assert defaults_changed_since(state, asked=["temperature"]) == {}
    assert defaults_changed_since({"method": "no_such_method", "config": {}}) == {}


@pytest.mark.parametrize("cls", method_classes(), ids=lambda cls: cls.name)
def test_a_fresh_checkpoint_records_every_setting_of_its_method(cls):
    options = {"content": "features"} if cls.name == "srgan" else {}  # no notice about VGG
    method = cls.build(profile("ci"), num_classes=3, **options)
    state = {"method": cls.name, "config": method.config()}
    assert settings_added_since(state) == []
    assert defaults_changed_since(state, asked=options) == {}  # SRGAN's resolved content too
