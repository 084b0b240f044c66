"""The demo's evaluation cache: each entry's evaluation kept in ``<out>/evaluations/``.

An evaluation is read back instead of computed again when nothing it depends on changed: the
kit's version and the source of the code that computes evaluations
(:func:`code_fingerprint`), the profile, data and jobs, and the checkpoint it judged (its
path, size and modification time). Delete a file there to evaluate that model again.

Example::

    >>> key = {"code": code_fingerprint(), "jobs": [["linear", 1.0, 0]]}     # doctest: +SKIP
    >>> saved = read(out / "evaluations" / "simclr.json", key)                # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fgssl import source
from fgssl.files import read_json
from fgssl.utils import CHECKPOINT

EVALUATION = ("fgssl.evaluate.protocol", "fgssl.evaluate.finetune",
              "fgssl.study.figures")  # where an evaluation's results and figures are computed


def code_fingerprint(roots: Sequence[str] = EVALUATION, package: Path = source.PACKAGE) -> str:
    """A hash of the source of ``roots`` (modules of ``package``, by default fgssl) and of
    every module they import, directly or not (:func:`fgssl.source.dependencies`): when one
    of them changes, saved evaluations are computed again."""
    digest = hashlib.sha256()
    for path in sorted(source.dependencies(roots, package).values()):
        digest.update(path.relative_to(package).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def checkpoint_fingerprint(run: str | None) -> dict[str, Any] | None:
    """What identifies a run folder's checkpoint well enough to reuse its evaluation."""
    if run is None:
        return None
    path = Path(run) / CHECKPOINT
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def read(path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The evaluation saved at ``path`` if it was computed for ``key``, else ``None``."""
    saved = read_json(path)
    return saved if isinstance(saved, dict) and saved.get("key") == key else None
