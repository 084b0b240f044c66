"""Atomic files: a file is either its old self or its new self, never half-written.

Everything fgssl writes goes through :func:`atomic_write`: the new contents go to a
temporary file beside the target, which ``os.replace`` then moves into place (atomic on one
file system), so an interrupted write leaves the previous file intact. This module imports
no torch: the command line uses it too.

Example::

    >>> atomic_write_json({"epochs": 2}, "runs/x/settings.json")    # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then move it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
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
