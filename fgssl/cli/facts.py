"""What the command line needs to know of the kit, read without importing torch.

The parser's choices and help come from the kit's own modules: the dataset catalog, the
registered methods (their options, study entries and networks), the study's baselines, the
evaluation protocols, the backbones, the bench's data paths. Those modules import torch,
torchvision, kornia and scikit-learn, which takes seconds; so :func:`load` derives them once
and keeps them in ``<cache_root>/cli-facts.json``, keyed by Python's version, fgssl's and
every source file of fgssl (path, size, modification time): any change to the code derives
them again. Methods registered at run time (:func:`fgssl.methods.registry.register`) are
described live, after the built-in ones. Where the cache cannot be written (a read-only
home), every call derives the facts.

Example::

    >>> [method["name"] for method in load()["methods"]][:2]      # doctest: +SKIP
    ['simclr', 'jigsaw']
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import sys
from pathlib import Path
from typing import Any

from fgssl.config import VERSION, cache_root
from fgssl.files import atomic_write_json
from fgssl.methods.registry import BUILT_IN, runtime_added

PACKAGE = Path(__file__).resolve().parents[1]  # fgssl's own folder
FILE_NAME = "cli-facts.json"


def load(cache: Path | None = None) -> dict[str, Any]:
    """The command line's facts: from ``cache`` (default :func:`~fgssl.config.cache_root`)
    when derived from the same code, else derived now (and saved there when possible)."""
    path = (cache or cache_root()) / FILE_NAME
    key = source_key()
    known = _read(path, key)
    if known is None:
        known = derive()
        with contextlib.suppress(OSError):  # no writable cache: derive again next time
            atomic_write_json({"key": key, "facts": known}, path)
    added = [describe_method(cls) for cls in runtime_added()]
    return {**known, "methods": known["methods"] + added}


def source_key() -> str:
    """A hash of what the facts are derived from: Python's and fgssl's versions, the
    built-in registrations and every ``.py`` file of fgssl (relative path, size, mtime)."""
    digest = hashlib.sha256(f"{sys.version}|{VERSION}|{BUILT_IN}".encode())
    for folder, _, files in sorted(os.walk(PACKAGE)):
        for name in sorted(f for f in files if f.endswith(".py")):
            stat = os.stat(os.path.join(folder, name))
            relative = os.path.relpath(os.path.join(folder, name), PACKAGE)
            digest.update(f"{relative}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:24]


def _read(path: Path, key: str) -> dict[str, Any] | None:
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return saved["facts"] if isinstance(saved, dict) and saved.get("key") == key else None


def derive() -> dict[str, Any]:
    """The facts, from the modules that know them (this imports torch and the rest)."""
    from fgssl.data import catalog
    from fgssl.evaluate.protocol import PROTOCOLS
    from fgssl.methods.registry import method_classes
    from fgssl.models.backbones import BACKBONES
    from fgssl.study.bench import PATHS
    from fgssl.study.entries import BASELINES

    built_in = method_classes()[:len(BUILT_IN)]
    return {"datasets": catalog.names(), "methods": [describe_method(c) for c in built_in],
            "baselines": [entry.name for entry in BASELINES], "protocols": list(PROTOCOLS),
            "backbones": list(BACKBONES), "bench_paths": list(PATHS)}


def describe_method(cls: type) -> dict[str, Any]:
    """What the command line shows of one method class: its name, the first line of its
    docstring, its options (with the constructor default's type), its study entries and the
    networks it can be evaluated by."""
    parameters = inspect.signature(cls).parameters
    options = []
    for option in cls.options:
        default = parameters[option.name].default
        kind = type(option.choices[0] if option.choices else default).__name__
        if default is None:  # resolved by the method: the type its annotation names first
            kind = str(parameters[option.name].annotation).split("|")[0].strip()
        if kind not in ("int", "float", "str", "bool"):
            raise TypeError(f"{cls.__name__}'s option {option.name} needs choices or a "
                            "default of type int, float, str or bool (its type on the command "
                            "line)")
        options.append({"name": option.name, "flag": option.flag, "help": option.help,
                        "type": kind, "default": default, "choices": list(option.choices),
                        "minimum": option.minimum, "maximum": option.maximum})
    summary = cls.summary or (cls.__doc__ or cls.name).strip().splitlines()[0]
    return {"name": cls.name, "summary": summary,
            "learns_from_labels": cls.learns_from_labels, "options": options,
            "entries": [{"name": e.name, "opt_in": e.opt_in} for e in cls.entries],
            "feature_choices": list(cls.feature_choices)}
