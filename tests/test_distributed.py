"""Training under torchrun (DDP), with 2 CPU processes and gloo: the same weights as one
process on the whole batch; the command line trains, writes one checkpoint and resumes."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

from fgssl import distributed
from fgssl.data.cache import CachedImages
from fgssl.methods.base import Method
from fgssl.methods.srgan import SRGAN
from fgssl.train import fit
from fgssl.utils import load_checkpoint

BATCH, EPOCHS = 8, 2


class _Linear(Method):
    """A linear classifier of the pixels: no augmentation, no batch statistics, so that
    its gradients on two halves of a batch average to its gradient on the whole."""

    name = "linear"

    def __init__(self) -> None:
        torch.manual_seed(0)
        super().__init__(nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 3)))

    def views(self, images: torch.Tensor) -> torch.Tensor:
        return images.float() / 255

    def training_step(self, inputs, labels):
        return F.cross_entropy(self.backbone(inputs), labels), {}

    def config(self) -> dict:
        return {}


def _data() -> CachedImages:
    rng = np.random.default_rng(0)
    return CachedImages(rng.integers(0, 256, (40, 4, 4, 3), dtype=np.uint8), np.arange(40) % 3)


def _train(out: Path | None) -> list[torch.Tensor]:
    method = _Linear()
    fit(method, _data(), "ci", out, epochs=EPOCHS, batch_size=BATCH, progress=False,
        amp=False, seed=1)
    return [p.detach().clone() for p in method.parameters()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, world: int, port: int, out: str) -> None:
    os.environ |= {"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
                   "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    torch.set_num_threads(1)
    weights = _train(Path(out) / "run")
    torch.save(weights, Path(out) / f"weights{rank}.pt")
    torch.distributed.destroy_process_group()


def test_two_processes_train_the_weights_one_process_trains(tmp_path):
    mp.spawn(_rank, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    alone = _train(None)
    for rank in range(2):
        for got, want in zip(torch.load(tmp_path / f"weights{rank}.pt"), alone, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    checkpoint = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert checkpoint["epoch"] == EPOCHS and len(checkpoint["random"]) == 2


def test_single_process_helpers_need_no_process_group():
    assert distributed.start() is None
    assert distributed.any_rank(True, None) and not distributed.any_rank(False, None)
    assert distributed.from_main(3, None) == 3 and distributed.gather(3, None) == [3]


def test_what_torchrun_cannot_do_is_refused_in_one_line(monkeypatch):
    monkeypatch.setattr(distributed, "start", lambda device=None: distributed.Launch(
        0, 0, 2, torch.device("cpu")))
    with pytest.raises(ValueError, match="train it in one process"):
        fit(SRGAN(image_size=16, hr_size=32), _data(), "ci", None, epochs=1, batch_size=8,
            progress=False)
    with pytest.raises(ValueError, match="--sync-bn needs GPUs"):
        fit(_Linear(), _data(), "ci", None, epochs=1, batch_size=8, progress=False,
            sync_batchnorm=True)
    with pytest.raises(ValueError, match="divisible by 2"):
        fit(_Linear(), _data(), "ci", None, epochs=1, batch_size=7, progress=False)


def _torchrun(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", "-m", "fgssl", "pretrain", "simclr",
               "--data", "synthbirds", "--profile", "ci", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env=os.environ | {"OMP_NUM_THREADS": "1"})


def test_torchrun_pretrains_writes_one_checkpoint_and_resumes(tmp_path):
    out = tmp_path / "simclr"
    first = _torchrun("--out", str(out), "--batch", "32")
    assert first.returncode == 0, first.stderr[-2000:]
    assert first.stdout.count("checkpoint in") == 1  # rank 0 alone reports
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "history.json"]
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["epoch"] == 1 and state["config"]["gather_negatives"] is True
    assert len(state["random"]) == 2
    second = _torchrun("--out", str(out), "--batch", "32", "--resume", "--epochs", "2")
    assert second.returncode == 0, second.stderr[-2000:]
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["epoch"] == 2 and [r["epoch"] for r in state["history"]] == [1, 2]
