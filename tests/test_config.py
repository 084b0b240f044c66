from pathlib import Path

import pytest

from fgssl import config


def test_profile_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("FGSSL_PROFILE", "cpu")
    assert config.profile().name == "cpu"
    assert config.profile("ci").name == "ci"  # an explicit name wins


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("FGSSL_PROFILE", "laptop")
    with pytest.raises(ValueError, match="use one of ci, cpu, gpu, full"):
        config.profile()


def test_default_profile_follows_the_hardware(monkeypatch):
    monkeypatch.delenv("FGSSL_PROFILE")
    monkeypatch.setattr(config, "_cuda_available", lambda: False)
    assert config.profile_name() == "cpu"
    monkeypatch.setattr(config, "_cuda_available", lambda: True)
    assert config.profile_name() == "gpu"


def test_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("FGSSL_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("FGSSL_RUNS", str(tmp_path / "r"))
    assert config.data_root() == tmp_path / "d"
    assert config.data_root(tmp_path / "x") == tmp_path / "x"
    assert config.runs_root() == tmp_path / "r"


def test_profiles_grow_from_ci_to_full():
    ci, cpu, gpu, full = (config.profile(n) for n in config.PROFILE_NAMES)
    assert ci.n_unlabelled < cpu.n_unlabelled <= gpu.n_unlabelled < full.n_unlabelled
    assert ci.train_per_class < cpu.train_per_class
    assert cpu.image_size < gpu.image_size < full.image_size


def test_the_notebook_gpu_schedule_reads_images_the_standard_stem_takes():
    from fgssl.models.backbones import SMALL_IMAGE_LIMIT

    gpu, full = config.profile("gpu"), config.profile("full")
    assert gpu.backbone == full.backbone == "resnet18"
    assert gpu.image_size >= SMALL_IMAGE_LIMIT  # the small-image stem would cost more
    assert "full" in gpu.schedule  # every training cell says where the full schedule is


def test_a_method_without_a_schedule_of_its_own_takes_the_profile_s():
    from fgssl.methods.jigsaw import Jigsaw
    from fgssl.methods.supervised import Supervised

    cpu = config.profile("cpu")
    assert Jigsaw.epochs_for(cpu) == cpu.epochs and Jigsaw.batch_size_for(cpu) == cpu.batch_size
    assert Supervised.batch_size_for(cpu) != cpu.batch_size  # it has its own


def test_the_version_is_pyproject_s():
    import tomllib

    import fgssl

    manifest = tomllib.loads((config.project_root(Path(__file__)) / "pyproject.toml").read_text())
    assert fgssl.__version__ == config.VERSION == manifest["project"]["version"]


def test_default_paths_are_the_checkouts_wherever_jupyter_starts(monkeypatch, tmp_path):
    monkeypatch.delenv("FGSSL_DATA", raising=False)
    monkeypatch.delenv("FGSSL_RUNS", raising=False)
    checkout = tmp_path / "checkout"
    (checkout / "notebooks").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text('[project]\nname = "fgssl"\n')
    monkeypatch.chdir(checkout / "notebooks")
    assert config.data_root() == checkout.resolve() / "data"
    assert config.runs_root() == checkout.resolve() / "runs"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # outside a checkout (pip install, Colab): the working dir
    assert config.project_root() == elsewhere.resolve()
