"""Profiles and paths: the one place where fgssl reads environment variables.

A *profile* sizes every experiment so that one notebook serves three machines:

- ``ci``:  seconds per notebook on 2 CPU cores; tiny data; proves the plumbing.
- ``cpu``: a classroom laptop; minutes per notebook; results must be meaningful.
- ``gpu``: Colab T4 and larger; real datasets at 224 px; full schedules.

Environment variables (read here and nowhere else):

- ``FGSSL_PROFILE``   ``ci`` | ``cpu`` | ``gpu``; default ``gpu`` with CUDA, else ``cpu``.
- ``FGSSL_DATA``      dataset root (default ``data/`` of the checkout, see :func:`project_root`).
- ``FGSSL_RUNS``      checkpoints and results (default ``runs/`` of the checkout).
- ``XDG_CACHE_HOME``  where the command line keeps its facts about the kit (``~/.cache``).
- ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``: set by ``torchrun`` for each process it starts.

Example::

    >>> from fgssl.config import profile
    >>> profile("ci").image_size
    32
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

VERSION = "0.1.0"  # fgssl's version (pyproject.toml says the same; a test checks)
PROFILE_NAMES = ("ci", "cpu", "gpu")


@dataclass(frozen=True)
class Profile:
    """How big everything is for one kind of machine.

    ``epochs`` and ``batch_size`` are the defaults; a method whose schedule differs says so
    itself (:attr:`fgssl.methods.base.Method.schedule`). ``*_per_class`` sizes apply to
    SynthBirds (real datasets bring their own splits); ``n_unlabelled`` is the size of
    SynthBirds' unlabelled pool.
    """

    name: str
    image_size: int
    backbone: str
    batch_size: int
    epochs: int
    n_unlabelled: int
    train_per_class: int
    val_per_class: int
    test_per_class: int
    workers: int


PROFILES: dict[str, Profile] = {
    "ci": Profile(name="ci", image_size=32, backbone="small_cnn", batch_size=64, epochs=1,
                  n_unlabelled=512, train_per_class=8, val_per_class=4, test_per_class=4,
                  workers=0),
    "cpu": Profile(name="cpu", image_size=32, backbone="small_cnn", batch_size=256, epochs=12,
                   n_unlabelled=10_000, train_per_class=100, val_per_class=25,
                   test_per_class=50, workers=0),
    "gpu": Profile(name="gpu", image_size=224, backbone="resnet18", batch_size=256, epochs=200,
                   n_unlabelled=20_000, train_per_class=100, val_per_class=25,
                   test_per_class=50, workers=2),
}


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def profile_name(name: str | None = None) -> str:
    """The profile's name: ``name`` if given, else ``FGSSL_PROFILE``, else by hardware."""
    chosen = name or os.environ.get("FGSSL_PROFILE") or ("gpu" if _cuda_available() else "cpu")
    if chosen not in PROFILES:
        raise ValueError(
            f"unknown profile {chosen!r}: use one of {', '.join(PROFILE_NAMES)} "
            "(set FGSSL_PROFILE or pass --profile)"
        )
    return chosen


def profile(name: str | None = None) -> Profile:
    """The :class:`Profile` named ``name`` (or chosen as :func:`profile_name` says)."""
    return PROFILES[profile_name(name)]


def project_root(start: Path | None = None) -> Path:
    """The fgssl checkout holding ``start`` (default: the working directory), found by its
    ``pyproject.toml``; else ``start`` itself. Jupyter runs a notebook in ``notebooks/``, a
    shell in the checkout: both then share one ``data/`` and one ``runs/``."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        manifest = folder / "pyproject.toml"
        if manifest.is_file() and 'name = "fgssl"' in manifest.read_text(errors="ignore"):
            return folder
    return start


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Where datasets live: ``root`` if given, else ``FGSSL_DATA``, else the project's
    ``data/``."""
    return Path(root or os.environ.get("FGSSL_DATA") or project_root() / "data")


def runs_root() -> Path:
    """Where checkpoints and results go: ``FGSSL_RUNS``, else the project's ``runs/``."""
    return Path(os.environ.get("FGSSL_RUNS") or project_root() / "runs")


def cache_root() -> Path:
    """Where fgssl keeps what it can compute again (the command line's facts about the kit):
    ``$XDG_CACHE_HOME/fgssl``, else ``~/.cache/fgssl``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fgssl"


def torchrun_launch() -> tuple[int, int, int] | None:
    """``(rank, local_rank, world_size)`` when this process was started by ``torchrun``."""
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return None
    return (int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")),
            int(os.environ["WORLD_SIZE"]))
