"""The ``fgssl`` parser's argument types: each turns a mistake into one line that says what is
accepted, e.g. ``'-3' is not a positive whole number, e.g. 10``. Imports no torch.

Example::

    >>> positive("10")
    10
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fgssl.config import MIN_IMAGE_SIZE


def one_of(kind: str, names: Sequence[str]) -> Callable[[str], str]:
    """A parser type accepting one of ``names``, else saying which are known."""
    def check(text: str) -> str:
        if text not in names:
            raise argparse.ArgumentTypeError(f"unknown {kind} {text!r}: choose one of "
                                             f"{', '.join(names)}")
        return text
    return check


def dataset(names: Sequence[str]) -> Callable[[str], str]:
    """A parser type accepting a dataset's name; a folder's path gets the flags that read it."""
    known = one_of("dataset", names)

    def check(text: str) -> str:
        if text not in names and Path(text).is_dir():
            raise argparse.ArgumentTypeError(
                f"{text!r} is a folder, not a dataset's name: for your own images give "
                f"'folder' (or 'cub_format', for a CUB-format folder) with --root {text}")
        return known(text)
    return check


def fraction(text: str) -> float:
    """A fraction of the labels, in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction in (0, 1], e.g. 0.1")
    return value


def positive(text: str) -> int:
    """A whole number of 1 or more: epochs, a batch, seeds."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number, e.g. 10")
    return int(text)


def whole_or_zero(text: str) -> int:
    """A whole number of 0 or more: a seed, DataLoader workers."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 0 or more, e.g. 0")
    return int(text)


def image_size(text: str) -> int:
    """An image size in pixels a side, at least the smallest the networks take."""
    if not text.isdigit() or int(text) < MIN_IMAGE_SIZE:
        raise argparse.ArgumentTypeError(f"{text!r} is not an image size of {MIN_IMAGE_SIZE} px "
                                         "or more, e.g. 64")
    return int(text)


def folder(text: str) -> str:
    """A folder that may not exist yet, but is not a file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder: give a folder, "
                                         "e.g. data/mine")
    return text


def output_folder(text: str) -> Path:
    """A folder fgssl may write into: it, or the nearest folder above it that exists, is
    writable."""
    path = Path(folder(text))
    existing = next(p for p in (path, *path.absolute().parents) if p.exists())
    if not os.access(existing, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write in {existing} (read-only, or not "
                                         "yours): choose a folder you can write to, e.g. "
                                         "runs/mine")
    return path


def positive_number(text: str) -> float:
    """A number above 0: a learning rate."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number, e.g. 0.3")
    return value


def typed(kind: str) -> Callable[[str], Any]:
    """A parser type converting to a method option's type (int, float or str)."""
    convert = {"int": int, "float": float, "str": str}[kind]

    def parse(text: str) -> Any:
        try:
            return convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n' * (kind == 'int')} "
                                             f"{kind}") from None
    parse.__name__ = kind
    return parse
