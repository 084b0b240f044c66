"""Which dataset a run was trained on: where it lives and what it holds.

Two folders of images are two datasets even when the catalog calls both ``folder``; a folder
whose files changed is no longer the dataset a model was trained on. So everything fgssl keeps
about a dataset read from disk (runs, the demo's results, caches) is keyed by its
:class:`DatasetIdentity`:

- its **location**, the folder's resolved path (a symlink or a relative path to the same
  folder is the same dataset), shown in run folders as a readable key
  (``folder-mybirds-1a2b3c4d``: the catalog name, the folder's name, a hash of its path);
- its **content**, a fingerprint of every image's path, label and split, size and a hash of
  its bytes. Modification times are not part of it (a copy to Google Drive or an ``rsync``
  changes them all): they only tell :func:`content_fingerprint` which files it need not hash
  again, from a memo it keeps beside the dataset's derived files.

Example::

    >>> from fgssl.data import catalog
    >>> catalog.data_key("folder", "data/mine")              # doctest: +SKIP
    'folder-mine-5be1c0d2'
    >>> catalog.identity("folder", "data/mine").content      # doctest: +SKIP
    '0c5e1f3a9b7d2e64'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fgssl.data.folders import Record
from fgssl.files import atomic_write_json, read_json

HASHES_FILE = "fgssl_file_hashes.json"  # the memo of content_fingerprint, per dataset folder


@dataclass(frozen=True)
class DatasetIdentity:
    """A dataset as a run depends on it: its catalog ``name``, its resolved ``location``
    (None for SynthBirds, which is rendered) and a fingerprint of its ``content``."""

    name: str
    location: str | None
    content: str

    def as_record(self) -> dict[str, Any]:
        """The JSON-able form a checkpoint keeps."""
        return asdict(self)


def path_digest(folder: Path) -> str:
    """A hash of a folder's resolved path (hex)."""
    return hashlib.sha256(str(folder.resolve()).encode()).hexdigest()


def location_key(name: str, folder: Path) -> str:
    """``<name>-<folder's name>-<8 hex of its resolved path>`` (``<name>-<hash>`` when the
    folder is named after the dataset, as ``data/cub200`` is)."""
    resolved = folder.resolve()
    shown = "" if resolved.name in ("", name) else f"-{resolved.name}"
    return f"{name}{shown}-{path_digest(folder)[:8]}"


def content_fingerprint(root: Path, splits: dict[str, list[Record]], memo: Path) -> str:
    """A fingerprint of the records in ``splits`` (their split, path and label) and of each
    file's size and bytes (SHA-256). A file whose size and modification time match the
    ``memo`` is not read again; the memo is rewritten when anything was hashed."""
    saved = read_json(memo) or {}
    known: dict[str, list[Any]] = saved.get("files", {}) if saved.get("root") == str(
        root.resolve()) else {}
    files: dict[str, list[Any]] = {}
    for path in sorted({r.path for records in splits.values() for r in records}):
        files[path] = _file_entry(root / path, known.get(path))
    if files != {p: known.get(p) for p in files}:
        atomic_write_json({"root": str(root.resolve()), "files": files}, memo)
    described = {"records": {split: [[r.path, r.label] for r in records]
                             for split, records in sorted(splits.items())},
                 "files": {path: [size, digest] for path, (size, _, digest) in files.items()}}
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


def _file_entry(path: Path, known: list[Any] | None) -> list[Any]:
    """``[size, mtime_ns, sha256]`` of a file, from ``known`` when its size and time match;
    ``[-1, -1, ""]`` for one that cannot be read."""
    try:
        stat = path.stat()
    except OSError:
        return [-1, -1, ""]
    if known is not None and known[:2] == [stat.st_size, stat.st_mtime_ns]:
        return known
    try:
        with open(path, "rb") as file:
            digest = hashlib.file_digest(file, "sha256").hexdigest()
    except OSError:
        return [-1, -1, ""]
    return [stat.st_size, stat.st_mtime_ns, digest]

