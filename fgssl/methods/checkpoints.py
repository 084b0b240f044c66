"""Checkpoints back to methods: the class a checkpoint names, rebuilt from its settings.

A checkpoint (:func:`fgssl.train.fit` writes one per epoch) holds the method's ``name``, its
``config`` (the constructor's arguments) and its weights. :func:`method_from_checkpoint`
makes the method again from them; :func:`settings_added_since` finds the settings its
method has now that the checkpoint predates (such a run followed their earlier behaviour,
whatever their default is today), and :func:`defaults_changed_since` the settings whose
default has changed since it was saved.

Example::

    >>> method = method_from_checkpoint("runs/cpu/synthbirds/simclr-standard-seed0")
    ...                                                     # doctest: +SKIP
    >>> method.history[-1]["knn_top1"]                      # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fgssl.methods.base import _CONTEXT, Method
from fgssl.methods.registry import method_classes
from fgssl.utils import CHECKPOINT, RUN_KEYS, CheckpointError, load_checkpoint


def _classes() -> dict[str, type[Method]]:
    return {cls.name: cls for cls in method_classes()}


def method_from_checkpoint(path: str | os.PathLike[str]) -> Method:
    """Rebuild the method a checkpoint (file, or the folder holding checkpoint.pt) was made by."""
    path = Path(path)
    state = load_checkpoint(path / CHECKPOINT if path.is_dir() else path, keys=RUN_KEYS)
    classes = _classes()
    if state.get("method") not in classes:
        raise CheckpointError(f"{path} is a checkpoint of {state.get('method')!r}, a method this "
                              f"fgssl does not have (it has {', '.join(classes)}): install the "
                              "fgssl (or register the method) that wrote it, or train again")
    try:
        method = classes[state["method"]](**state["config"])
        method.load_state_dict(state["model"])
    except (TypeError, RuntimeError) as error:  # unknown arguments, weights of another shape
        raise ValueError(f"{path} was saved by another version of fgssl's {state['method']} and "
                         "does not fit this one: delete it to train again, or use another --out"
                         ) from error
    method.history, method.trace = state["history"], state.get("trace", [])
    return method


def settings_added_since(state: dict[str, Any]) -> list[str]:
    """The settings (constructor arguments) of a checkpoint's method that its saved config
    lacks: added to fgssl after it was saved, so the run followed their earlier behaviour,
    whatever their default is now. Empty for a checkpoint of no known method (loading it
    says so)."""
    method = _classes().get(state.get("method"))
    if method is None:
        return []
    arguments = inspect.signature(method).parameters
    return sorted(set(arguments) - set(state["config"]) - set(method.runtime_arguments))


def defaults_changed_since(state: dict[str, Any], asked: Iterable[str] = ()
                           ) -> dict[str, tuple[Any, Any]]:
    """``{setting: (saved value, default now)}`` for each setting a checkpoint holds at a
    value that is not its method's default today, leaving out the settings in ``asked`` (given
    explicitly, so the saved value is the one asked for), those a profile hands over
    (backbone, image size, classes), those the constructor resolves itself
    (``resolved_settings``) and those torchrun sets (``distributed_settings``). Such a
    checkpoint was trained under an older default: reused silently, it would stand for a
    method it is not."""
    method = _classes().get(state.get("method"))
    if method is None:
        return {}
    skipped = {*asked, *_CONTEXT, *method.resolved_settings, *method.distributed_settings}
    defaults = {name: parameter.default
                for name, parameter in inspect.signature(method).parameters.items()
                if parameter.default is not inspect.Parameter.empty and name not in skipped}
    return {name: (state["config"][name], default) for name, default in defaults.items()
            if name in state["config"] and state["config"][name] != default}
