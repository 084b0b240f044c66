"""Profiles and paths: the one place where fgssl reads environment variables.

A *profile* sizes every experiment so that one notebook serves three machines:

- ``ci``:  seconds per notebook on 2 CPU cores; tiny data; proves the plumbing.
- ``cpu``: a classroom laptop; minutes per notebook; results must be meaningful.
- ``gpu``: the notebooks on a GPU (Colab's T4 and larger): ResNet-18 at 96 px, schedules
  sized so that every training cell takes at most about 5 minutes and every notebook about
  20 on a T4 (docs/INSTRUCTORS.md derives them). The automatic choice on CUDA.
- ``full``: the full-scale study for the command line on a GPU (``--profile full``):
  ResNet-18 at 224 px, 200 epochs of self-supervision; hours on a T4.

Environment variables (read here and nowhere else):

- ``FGSSL_PROFILE``   ``ci`` | ``cpu`` | ``gpu`` | ``full``; default ``gpu`` with CUDA, else
  ``cpu``.
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
from dataclasses import dataclass, replace
from pathlib import Path

VERSION = "0.1.0"  # fgssl's version (pyproject.toml says the same; a test checks)
PROFILE_NAMES = ("ci", "cpu", "gpu", "full")
MIN_IMAGE_SIZE = 16  # the smallest image a profile may read (Jigsaw's 3x3 tiles need 18)


@dataclass(frozen=True)
class Profile:
    """How big everything is for one kind of machine.

    ``epochs`` and ``batch_size`` are the defaults; a method whose schedule differs says so
    itself (:attr:`fgssl.methods.base.Method.schedule`). ``*_per_class`` sizes apply to
    SynthBirds (real datasets bring their own splits); ``n_unlabelled`` is the size of
    SynthBirds' unlabelled pool. ``image_size`` is the profile's own unless the user chose
    another (:func:`profile` with ``size``; :func:`chosen_size` tells). ``schedule`` says in
    words which schedule the profile runs (every training cell prints it).
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
    schedule: str


PROFILES: dict[str, Profile] = {
    "ci": Profile(name="ci", image_size=32, backbone="small_cnn", batch_size=64, epochs=1,
                  n_unlabelled=512, train_per_class=8, val_per_class=4, test_per_class=4,
                  workers=0, schedule="the plumbing check"),
    "cpu": Profile(name="cpu", image_size=32, backbone="small_cnn", batch_size=256, epochs=12,
                   n_unlabelled=10_000, train_per_class=100, val_per_class=25,
                   test_per_class=50, workers=0, schedule="the laptop schedule"),
    "gpu": Profile(name="gpu", image_size=96, backbone="resnet18", batch_size=256, epochs=25,
                   n_unlabelled=10_000, train_per_class=100, val_per_class=25,
                   test_per_class=50, workers=2,
                   schedule="the notebook schedule on a GPU; `--profile full` is the "
                            "full-scale one"),
    "full": Profile(name="full", image_size=224, backbone="resnet18", batch_size=256,
                    epochs=200, n_unlabelled=20_000, train_per_class=100, val_per_class=25,
                    test_per_class=50, workers=2,
                    schedule="the full-scale schedule for the command line"),
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


def profile(name: str | None = None, size: int | None = None) -> Profile:
    """The :class:`Profile` named ``name`` (or chosen as :func:`profile_name` says), reading
    images at ``size`` pixels a side when given (the ``--size`` of every command)."""
    chosen = PROFILES[profile_name(name)]
    return chosen if size is None else at_size(chosen, size)


def at_size(prof: Profile, size: int | None) -> Profile:
    """``prof`` reading images at ``size`` (None: as it is). The small CNN reads any size
    from ``MIN_IMAGE_SIZE`` up, its cost growing with the pixels (64 px: 4x 32 px)."""
    if size is None or size == prof.image_size:
        return prof
    if not isinstance(size, int) or size < MIN_IMAGE_SIZE:
        raise ValueError(f"image size {size!r} is too small: choose {MIN_IMAGE_SIZE} px or "
                         f"more (the {prof.name} profile reads {prof.image_size} px)")
    return replace(prof, image_size=size)


def chosen_size(prof: Profile) -> int | None:
    """The image size the user chose for ``prof``, or None when it reads the profile's own."""
    own = PROFILES[prof.name].image_size
    return None if prof.image_size == own else prof.image_size


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
