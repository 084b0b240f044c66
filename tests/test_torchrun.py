"""Training under torchrun (DDP), with 2 CPU processes and gloo: the same weights as one
process on the whole batch; the command line trains, writes one checkpoint and resumes."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

from fgssl import torchrun
from fgssl.methods.base import Method
from fgssl.methods.srgan import SRGAN
from fgssl.train import Hardware, Hyperparameters, Watch, fit
from fgssl.utils import load_checkpoint
from tests.toy_methods import MomentumLinear, toy_data

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



QUIET = Watch(progress_bar=False)


def _train(out: Path | None, momentum: bool = False) -> list[torch.Tensor]:
    """The weights after training (a momentum target's too)."""
    method = MomentumLinear() if momentum else _Linear()
    fit(method, toy_data(), "ci", out, hyper=Hyperparameters(epochs=EPOCHS, batch_size=BATCH,
                                                             seed=1),
        hardware=Hardware(amp=False), watch=QUIET)
    return [t.detach().clone() for t in method.state_dict().values()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, world: int, port: int, out: str, momentum: bool = False) -> None:
    os.environ |= {"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
                   "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    torch.set_num_threads(1)
    weights = _train(Path(out) / "run", momentum)
    torch.save(weights, Path(out) / f"weights{rank}.pt")
    torch.distributed.destroy_process_group()


@pytest.mark.parametrize("momentum", [False, True], ids=["linear", "momentum-target"])
def test_two_processes_train_the_weights_one_process_trains(tmp_path, momentum):
    """A momentum target updated after every step (under torchrun too) included."""
    mp.spawn(_rank, args=(2, _free_port(), str(tmp_path), momentum), nprocs=2, join=True)
    alone = _train(None, momentum)
    for rank in range(2):
        for got, want in zip(torch.load(tmp_path / f"weights{rank}.pt"), alone, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    checkpoint = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert checkpoint["epoch"] == EPOCHS and len(checkpoint["random"]) == 2


def test_single_process_helpers_need_no_process_group():
    assert torchrun.start() is None
    assert torchrun.any_rank(True, None) and not torchrun.any_rank(False, None)
    assert torchrun.from_main(3, None) == 3 and torchrun.gather(3, None) == [3]


def test_what_torchrun_cannot_do_is_refused_in_one_line(monkeypatch):
    monkeypatch.setattr(torchrun, "start", lambda device=None: torchrun.Launch(
        0, 0, 2, torch.device("cpu")))
    with pytest.raises(ValueError, match="train it in one process"):
        fit(SRGAN(image_size=16, hr_size=32), toy_data(), "ci", None,
            hyper=Hyperparameters(epochs=1, batch_size=8), watch=QUIET)
    with pytest.raises(ValueError, match="--sync-bn needs GPUs"):
        fit(_Linear(), toy_data(), "ci", None, hyper=Hyperparameters(epochs=1, batch_size=8),
            hardware=Hardware(sync_batchnorm=True), watch=QUIET)
    with pytest.raises(ValueError, match="divisible by 2"):
        fit(_Linear(), toy_data(), "ci", None, hyper=Hyperparameters(epochs=1, batch_size=7),
            watch=QUIET)


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
    assert sorted(p.name for p in out.iterdir()) == [".fgssl_lock", "checkpoint.pt",
                                                     "history.json"]  # the lock: rank 0 alone
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["epoch"] == 1 and state["config"]["gather_negatives"] is True
    assert len(state["random"]) == 2
    second = _torchrun("--out", str(out), "--batch", "32", "--resume", "--epochs", "2")
    assert second.returncode == 0, second.stderr[-2000:]
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["epoch"] == 2 and [r["epoch"] for r in state["history"]] == [1, 2]
