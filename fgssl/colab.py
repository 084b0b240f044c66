"""Colab conveniences: keep checkpoints and results in Google Drive.

A Colab runtime's disk disappears when the runtime is recycled, and ``runs/`` with it. Every
notebook has an opt-in line (``KEEP_RUNS_IN_DRIVE = True``) that calls
:func:`keep_runs_in_drive`: Drive is mounted (Colab asks for permission once) and
``FGSSL_RUNS`` points into it, so every later checkpoint, evaluation and figure goes there,
and a run cut off by a recycled runtime resumes from Drive. Before a cell trains,
:func:`runs_lost_with_runtime` says so when they are not.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fgssl.config import runs_root

DRIVE = Path("/content/drive")  # where Colab mounts Google Drive


def on_colab() -> bool:
    """Whether this Python runs in a Google Colab runtime."""
    return "google.colab" in sys.modules


def runs_lost_with_runtime() -> str | None:
    """On Colab with ``runs/`` on the runtime's own disk, a line saying that a recycled
    runtime takes them along and how to keep them; else None."""
    if not on_colab() or DRIVE in runs_root().resolve().parents:
        return None
    return (f"on Colab, {runs_root()} is on the runtime's own disk, which goes when the runtime "
            "is recycled (idle, or at its time limit), and this run with it: set "
            "KEEP_RUNS_IN_DRIVE = True in the notebook's first cell to keep runs in Google "
            "Drive, where an interrupted run resumes")


def keep_runs_in_drive(folder: str = "fgssl_runs", mount_point: str = str(DRIVE)) -> Path:
    """Mount Google Drive and send fgssl's runs there, so that trained models outlive a
    recycled Colab runtime. Outside Colab this is an error that says what to do instead.

    Args:
        folder: the folder under ``MyDrive``.
        mount_point: where Drive is mounted.

    Returns:
        The runs' folder, ``MyDrive/<folder>``."""
    if not on_colab():
        raise RuntimeError("keep_runs_in_drive works on Colab only: elsewhere set FGSSL_RUNS "
                           "to any folder you like")
    from google.colab import drive

    drive.mount(mount_point)
    runs = Path(mount_point) / "MyDrive" / folder
    runs.mkdir(parents=True, exist_ok=True)
    os.environ["FGSSL_RUNS"] = str(runs)  # fgssl.config.runs_root() reads it at every call
    print(f"checkpoints and results go to {runs} (Google Drive)")
    return runs
