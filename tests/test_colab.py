import sys
import types

import pytest

from fgssl.colab import keep_runs_in_drive, on_colab
from fgssl.config import runs_root


def test_outside_colab_it_says_what_to_do_instead():
    assert not on_colab()
    with pytest.raises(RuntimeError, match="set FGSSL_RUNS"):
        keep_runs_in_drive()


def test_on_colab_drive_is_mounted_and_runs_go_there(tmp_path, monkeypatch):
    mounted = []
    drive = types.SimpleNamespace(mount=mounted.append)
    colab = types.ModuleType("google.colab")
    colab.drive = drive
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    runs = keep_runs_in_drive("my_runs", mount_point=str(tmp_path))
    assert mounted == [str(tmp_path)]
    assert runs == tmp_path / "MyDrive" / "my_runs" and runs.is_dir()
    assert runs_root() == runs


def test_before_training_on_colab_it_says_that_runs_off_drive_go_with_the_runtime(monkeypatch):
    from fgssl import colab
    from fgssl.study.runs import load_or_train

    said = []
    load_or_train("jigsaw", "ci", epochs=1, progress_bar=False, say=said.append)
    assert len(said) == 1  # not on Colab: the estimate alone
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert "KEEP_RUNS_IN_DRIVE = True" in colab.runs_lost_with_runtime()
    load_or_train("jigsaw", "ci", epochs=2, progress_bar=False, say=said.append)
    assert said[1].startswith("training jigsaw") and "recycled" in said[2]
    monkeypatch.setattr(colab, "DRIVE", runs_root().parent)  # runs/ now inside "Drive"
    assert colab.runs_lost_with_runtime() is None
