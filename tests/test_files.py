import os
import subprocess
import sys
from collections import namedtuple

import pytest

from fgssl import files
from fgssl.files import BusyError, DiskFullError, atomic_write_json, exclusive, read_json

Usage = namedtuple("Usage", "total used free")


def test_one_holder_at_a_time_and_the_other_is_told_who(tmp_path):
    lock = tmp_path / "run" / ".lock"
    message = rf"another fgssl process \(pid {os.getpid()}\) is training into run: wait for it"
    with exclusive(lock, "training into run"), pytest.raises(BusyError, match=message), \
            exclusive(lock, "training into run"):
        pass
    with exclusive(lock, "training into run"):  # free again once the block is left
        pass


def test_a_lock_is_freed_when_its_process_dies(tmp_path):
    lock = tmp_path / ".lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from fgssl.files import exclusive\n"
         f"with exclusive({str(lock)!r}, 'x'):\n print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(BusyError, match=f"pid {holder.pid}"), exclusive(lock, "x"):
        pass
    holder.kill()  # as kill -9 would: no clean-up ran
    holder.wait()
    with exclusive(lock, "x"):
        pass


def test_read_json_is_none_for_a_missing_or_damaged_file(tmp_path):
    assert read_json(tmp_path / "none.json") is None
    (tmp_path / "cut.json").write_text('{"a": [1, 2')
    assert read_json(tmp_path / "cut.json") is None
    atomic_write_json({"a": [1, 2]}, tmp_path / "whole.json")
    assert read_json(tmp_path / "whole.json") == {"a": [1, 2]}


def test_a_write_on_a_full_disk_says_so_and_keeps_the_previous_file(tmp_path, monkeypatch):
    path = atomic_write_json({"epoch": 1}, tmp_path / "state.json")

    def full_disk(tmp):
        tmp.write_text('{"epo')
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos")

    monkeypatch.setattr(files.shutil, "disk_usage", lambda folder: Usage(100, 100, 0))
    with pytest.raises(DiskFullError, match=r"^no space left on the disk that holds .* \(the "
                                            r"previous state.json is kept\): free some space"):
        files.atomic_write(path, full_disk)
    assert read_json(path) == {"epoch": 1} and os.listdir(tmp_path) == ["state.json"]
    monkeypatch.setattr(files.shutil, "disk_usage", lambda folder: Usage(100, 0, 10**9))
    with pytest.raises(RuntimeError, match="inline_container"):  # room enough: another fault
        files.atomic_write(path, full_disk)
