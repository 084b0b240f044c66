import os
import warnings

import numpy as np
import pytest
import torch

from fgssl import utils
from tests.fakes import not_a_checkpoint


def test_seed_everything_repeats_every_generator():
    def draw():
        return (np.random.rand(), torch.rand(1).item(), __import__("random").random())

    utils.seed_everything(3)
    first = draw()
    utils.seed_everything(3)
    assert draw() == first
    utils.seed_everything(4)
    assert draw() != first


def test_atomic_save_round_trip_with_weights_only(tmp_path):
    state = {"weights": torch.arange(4.0), "epoch": 2, "history": [0.5, 0.25]}
    path = utils.atomic_save(state, tmp_path / "sub" / "checkpoint.pt")
    loaded = utils.load_checkpoint(path)
    assert torch.equal(loaded["weights"], state["weights"])
    assert loaded["epoch"] == 2 and loaded["history"] == [0.5, 0.25]
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.pt"]  # no temp files left


def test_interrupted_save_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = utils.atomic_save({"epoch": 1}, tmp_path / "checkpoint.pt")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        utils.atomic_save({"epoch": 2}, path)
    assert utils.load_checkpoint(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["checkpoint.pt"]


@pytest.mark.parametrize("kind, message", [
    ("code", r"holds Python objects \((posix|nt)\.system\) that fgssl does not load"),
    ("empty", "is empty or damaged"), ("truncated", "is empty or damaged"),
    ("text", "is empty or damaged"), ("foreign", "not a checkpoint fgssl wrote"),
])
def test_a_file_that_is_no_checkpoint_is_one_clear_error(kind, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = not_a_checkpoint(kind, tmp_path / "checkpoint.pt")
    before = path.read_bytes()
    with pytest.raises(utils.CheckpointError, match=message) as error:
        utils.load_checkpoint(path, keys=utils.RUN_KEYS)
    text = str(error.value)
    assert str(path) in text and "delete it" in text and "\n" not in text
    assert "weights_only" not in text and error.value.__cause__ is None
    # torch's error, whose advice is weights_only=False, is not shown under it
    assert error.value.__context__ is None or error.value.__suppress_context__
    assert not (tmp_path / "ran").exists() and path.read_bytes() == before


@pytest.mark.parametrize("content", [
    b"hello\n", b"a", b"(", b"M", b"\x80\x02X\x02\x00\x00\x00\xff\xfe.", b"\x80\x39(",
], ids=["memo", "stack", "end", "short", "utf8", "protocol"])
def test_any_bytes_that_are_no_checkpoint_are_the_same_one_line_error(content, tmp_path):
    # arbitrary bytes fail torch's unpickler in many ways (KeyError, IndexError, EOFError,
    # struct.error, UnicodeDecodeError), some after a warning about the pickle protocol
    path = tmp_path / "notes.pt"
    path.write_bytes(content)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning reaches the user either
        with pytest.raises(utils.CheckpointError, match="is empty or damaged") as error:
            utils.load_checkpoint(path)
    assert "\n" not in str(error.value) and error.value.__suppress_context__


def test_missing_checkpoint_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="fgssl pretrain"):
        utils.load_checkpoint(tmp_path / "none.pt")


def test_device_choice_and_hint(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    device = utils.choose_device()
    assert device.type == "cpu"
    assert "no GPU" in utils.device_hint(device)
    with pytest.raises(RuntimeError, match="no GPU is visible"):
        utils.choose_device("cuda")


def test_weights_cached_looks_in_torchvisions_cache(tmp_path, monkeypatch):
    from fgssl.utils import weights_cached

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    url = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    assert not weights_cached(url)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "resnet18-f37072fd.pth").write_bytes(b"weights")
    assert weights_cached(url)


def test_bf16_on_the_cpu_only_where_the_hardware_has_it(monkeypatch):
    from fgssl.utils import cpu_has_native_bf16

    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        monkeypatch.setattr(torch.cpu, probe, lambda: False, raising=False)
    assert not cpu_has_native_bf16()
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert cpu_has_native_bf16()
