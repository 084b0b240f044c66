"""Atomic files: a file is either its old self or its new self, never half-written.

Everything fgssl writes goes through :func:`atomic_write`: the new contents go to a
temporary file beside the target, which ``os.replace`` then moves into place (atomic on one
file system), so an interrupted write leaves the previous file intact. This module imports
no torch: the command line uses it too. :func:`exclusive` keeps a second process from writing
the same files at the same time.

Example::

    >>> atomic_write_json({"epochs": 2}, "runs/x/settings.json")    # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


class BusyError(RuntimeError):
    """Another process holds what this one needs to write (a training run's folder)."""


FULL_BELOW_BYTES = 1 << 20  # a write that fails with less free space than this: the disk is full


class DiskFullError(OSError):
    """A write failed for want of space; the file it was to replace is intact."""

    def __str__(self) -> str:
        return str(self.strerror)


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then move it into place. A
    write that fails on a full disk (torch says so only as a RuntimeError of its zip writer)
    is a :class:`DiskFullError` that says the previous file is kept."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as error:
        if shutil.disk_usage(path.parent).free >= FULL_BELOW_BYTES:
            raise
        kept = f"the previous {path.name} is kept" if path.exists() else "nothing was written"
        raise DiskFullError(errno.ENOSPC, f"no space left on the disk that holds {path.parent} "
                                          f"({kept}): free some space and run again (a training: "
                                          "with --resume)") from error
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_json(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    text = json.dumps(obj, indent=1)
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def read_json(path: str | os.PathLike[str]) -> Any:
    """The JSON in ``path``, or None when it is absent or not readable JSON (a file fgssl
    derives, to be made again)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def exclusive(lock: str | os.PathLike[str], doing: str) -> Iterator[None]:
    """Hold the file ``lock`` locked for the block, so that one process at a time does
    ``doing`` (e.g. "training into runs/x"); while another holds it, a :class:`BusyError`
    that says so. The lock is the operating system's (``flock``), freed when its process
    ends however it ends; the file itself stays. Where there is no ``flock`` (Windows) the
    block runs unlocked."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    lock = Path(lock)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            raise BusyError(f"another fgssl process{f' (pid {holder})' if holder else ''} is "
                            f"{doing}: wait for it to finish, then run this again") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
