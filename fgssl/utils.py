"""Seeding, device choice and checkpoint files.

Checkpoints are written atomically (:func:`fgssl.files.atomic_write`), so an interrupted save
never leaves a half-written checkpoint; they are read with ``torch.load(weights_only=True)``,
which refuses to run code hidden in a pickle. A file that cannot be read that way (empty,
truncated, pickled objects, another program's) is a :class:`CheckpointError` whose message
names the file and what to do.
"""

from __future__ import annotations

import os
import pickle
import random
import re
import struct
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fgssl.files import atomic_write

CHECKPOINT, HISTORY = "checkpoint.pt", "history.json"  # what a training run writes to its folder
LOCK = ".fgssl_lock"  # held in a run's folder while a process trains into it (fgssl.files)
RUN_KEYS = ("method", "config", "model", "epoch", "history")  # in every checkpoint fit() writes


class CheckpointError(ValueError):
    """A file that is not a checkpoint fgssl can read: empty, truncated or another program's."""


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and CUDA) random generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def choose_device(requested: str | None = None) -> torch.device:
    """The device to compute on: the requested one, else CUDA, then Apple MPS, then the CPU.
    A request for CUDA on a machine without it is an error that says what to do: falling back
    to the CPU silently would turn a GPU run into a day-long one.

    Args:
        requested: e.g. ``"cpu"``, ``"cuda"``, ``"cuda:1"``; None: the best there is.

    Returns:
        The device."""
    if requested is not None:
        device = torch.device(requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(
                "CUDA was requested but no GPU is visible: on Colab choose "
                "Runtime > Change runtime type > GPU, or use --device cpu"
            )
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bfloat16 in hardware (AMX tiles or AVX512-BF16: recent Xeons,
    AMD Zen 4 and later), where bf16 autocast speeds a small CNN's training step up; on other
    CPUs bf16 is emulated and slower, so fgssl keeps float32 there."""
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # torch.cpu, private
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)


def weights_cached(url: str) -> bool:
    """Whether torchvision's weight cache (``torch.hub.get_dir()/checkpoints``) already holds
    the file at ``url`` (e.g. ``ResNet18_Weights.IMAGENET1K_V1.url``): usable offline."""
    return (Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name).is_file()


def device_hint(device: torch.device) -> str:
    """What a device means for the user, in one line.

    Args:
        device: the device a run uses.

    Returns:
        The GPU's name, or that the CPU suits the ``ci`` and ``cpu`` profiles and where to
        get a GPU."""
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return (
        "no GPU found: running on the CPU, which suits the 'ci' and 'cpu' profiles; "
        "for the 'gpu' profile use a GPU machine (on Colab: Runtime > Change runtime type)"
    )


def atomic_save(state: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Save a checkpoint dict so that ``path`` holds either the old file or the new one."""
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu",
    keys: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`atomic_save` (tensors and plain types only), a
    dict holding at least ``keys`` (:data:`RUN_KEYS` for a training run's). Nothing in the
    file is executed; a file that is not such a checkpoint is a :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: train one first (fgssl pretrain ...)")
    what_to_do = "delete it and train again (fgssl pretrain ...), or give another checkpoint"
    try:
        with warnings.catch_warnings():  # a stray byte read as an unusual pickle protocol
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:  # refused by the weights-only unpickler
        named = re.search(r"GLOBAL (\S+)", str(error))
        if named is None:  # not a pickle torch can read at all
            raise CheckpointError(f"{path} is empty or damaged (not a checkpoint file): "
                                  f"{what_to_do}") from None
        raise CheckpointError(f"{path} holds Python objects ({named.group(1)}) that fgssl does "
                              "not load, since loading them could run code: it is not a "
                              f"checkpoint fgssl wrote; {what_to_do}") from None
    except (EOFError, RuntimeError, zipfile.BadZipFile, OSError,  # bytes that are no pickle
            IndexError, KeyError, struct.error, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} is empty or damaged ({_first_line(error)}): "
                              f"{what_to_do}") from None
    missing = [key for key in keys if not isinstance(state, dict) or key not in state]
    if missing:
        raise CheckpointError(f"{path} is not a checkpoint fgssl wrote (it has no "
                              f"{', '.join(missing)}): {what_to_do}")
    return state


def _first_line(error: BaseException) -> str:
    """An exception's message, cut to its first line."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def atomic_save_array(array: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Save a numpy array as ``.npy``, atomically."""
    def write(tmp: Path) -> None:
        with tmp.open("wb") as file:
            np.save(file, array)
    return atomic_write(path, write)
