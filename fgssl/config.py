"""Profiles and paths: the one place where fgssl reads environment variables.

A *profile* sizes every experiment so that one notebook serves three machines:

- ``ci``:  seconds per notebook on 2 CPU cores; tiny data; proves the plumbing.
- ``cpu``: a classroom laptop; minutes per notebook; results must be meaningful.
- ``gpu``: Colab T4 and larger; real datasets at 224 px; full schedules.

Environment variables (read here and nowhere else):

- ``FGSSL_PROFILE``   ``ci`` | ``cpu`` | ``gpu``; default ``gpu`` with CUDA, else ``cpu``.
- ``FGSSL_DATA``      dataset root (default ``data/`` of the checkout, see :func:`project_root`).
- ``FGSSL_RUNS``      checkpoints and results (default ``runs/`` of the checkout).
- ``FGSSL_SOLUTIONS`` ``1`` makes unsolved exercise cells fall back to the reference solutions.
- ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``: set by ``torchrun`` for each process it starts.

Example::

    >>> from fgssl.config import profile
    >>> profile("ci").image_size
    32
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

PROFILE_NAMES = ("ci", "cpu", "gpu")


@dataclass(frozen=True)
class Profile:
    """How big everything is for one kind of machine.

    ``*_per_class`` sizes apply to SynthBirds (real datasets bring their own splits);
    ``n_unlabelled`` is the size of SynthBirds' unlabelled pool.
    """

    name: str
    image_size: int
    backbone: str
    batch_size: Mapping[str, int]  # per method name, with a "default"
    epochs: Mapping[str, int]  # per method name, with a "default"
    n_unlabelled: int
    train_per_class: int
    val_per_class: int
    test_per_class: int
    workers: int

    def epochs_for(self, method: str) -> int:
        """Training epochs for ``method`` in this profile."""
        return self.epochs.get(method, self.epochs["default"])

    def batch_size_for(self, method: str) -> int:
        """Training batch size for ``method`` in this profile."""
        return self.batch_size.get(method, self.batch_size["default"])

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles (for worker processes) through plain dicts: mapping proxies do not."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return _unpickle_profile, ({name: dict(value) if isinstance(value, Mapping) else value
                                    for name, value in fields.items()},)


def _unpickle_profile(fields: dict[str, Any]) -> Profile:
    return Profile(**{name: _per_method(**value) if isinstance(value, dict) else value
                      for name, value in fields.items()})


def _per_method(**values: int) -> Mapping[str, int]:
    return MappingProxyType(values)


PROFILES: dict[str, Profile] = {
    "ci": Profile(
        name="ci", image_size=32, backbone="small_cnn", batch_size=_per_method(default=64),
        epochs=_per_method(default=1),
        n_unlabelled=512, train_per_class=8, val_per_class=4, test_per_class=4, workers=0,
    ),
    "cpu": Profile(
        name="cpu", image_size=32, backbone="small_cnn",
        batch_size=_per_method(default=256, supervised=64, pmg=64, srgan=64, finetune=64),
        epochs=_per_method(default=12, supervised=30, pmg=15, srgan=2, finetune=6),
        n_unlabelled=10_000, train_per_class=100, val_per_class=25, test_per_class=50,
        workers=0,
    ),
    "gpu": Profile(
        name="gpu", image_size=224, backbone="resnet18",
        batch_size=_per_method(default=256, supervised=64, pmg=32, srgan=32, finetune=64),
        epochs=_per_method(default=200, supervised=100, pmg=50, srgan=30, finetune=30),
        n_unlabelled=20_000, train_per_class=100, val_per_class=25, test_per_class=50,
        workers=2,
    ),
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


def solutions_enabled() -> bool:
    """True when ``FGSSL_SOLUTIONS=1``: unsolved exercises use the reference solutions."""
    return os.environ.get("FGSSL_SOLUTIONS", "0") == "1"


def torchrun_launch() -> tuple[int, int, int] | None:
    """``(rank, local_rank, world_size)`` when this process was started by ``torchrun``."""
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return None
    return (int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")),
            int(os.environ["WORLD_SIZE"]))
