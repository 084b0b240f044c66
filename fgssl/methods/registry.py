"""Every method the kit has: one registration line each, nothing else.

A method is found by the ``name`` its class declares (:class:`~fgssl.methods.base.Method`);
the rest of the kit — ``fgssl pretrain METHOD`` and its flags, ``fgssl demo --methods``, the
study's rows, ``load_or_train`` — is derived from the registered classes. This module
imports no torch: the lines name where each class lives, and a class is imported when it is
first asked for.

Adding a method: write its module (a :class:`~fgssl.methods.base.Method` subclass that says
what it is), its test, and one line below. Code outside fgssl (a test, a user's own method)
registers a class object with :func:`register`.

Example::

    >>> method_class("simclr").learns_from_labels              # doctest: +SKIP
    False
"""

from __future__ import annotations

import importlib
from typing import Any

BUILT_IN = (  # "module:Class", in the order the study shows them
    "fgssl.methods.simclr:SimCLR",
    "fgssl.methods.jigsaw:Jigsaw",
    "fgssl.methods.srgan:SRGAN",
    "fgssl.methods.byol:BYOL",
    "fgssl.methods.vicreg:VICReg",
    "fgssl.methods.dino:DINO",
    "fgssl.methods.supervised:Supervised",
    "fgssl.methods.pmg:PMG",
)
_ADDED: list[type] = []  # classes registered at run time, after the built-in ones


def register(method: type) -> type:
    """Add a method class (usable as a class decorator); a name already taken is an error."""
    taken = {cls.name for cls in method_classes()}
    if method.name in taken:
        raise ValueError(f"a method called {method.name!r} is registered already: give "
                         f"{method.__name__} another name")
    _ADDED.append(method)
    return method


def unregister(method: type) -> None:
    """Remove a class added with :func:`register` (tests clean up with it)."""
    _ADDED.remove(method)


def _load(where: str) -> Any:
    module, _, attribute = where.partition(":")
    return getattr(importlib.import_module(module), attribute)


def method_classes() -> list[type]:
    """Every registered method class, built-in ones first (importing them)."""
    return [_load(where) for where in BUILT_IN] + list(_ADDED)


def method_class(name: str) -> Any:
    """The registered class called ``name``; an unknown name is an error listing the others."""
    classes = {cls.name: cls for cls in method_classes()}
    if name not in classes:
        raise ValueError(f"unknown method {name!r}: choose one of {', '.join(classes)}")
    return classes[name]


def runtime_added() -> list[type]:
    """The classes registered at run time (not among the built-in lines)."""
    return list(_ADDED)
