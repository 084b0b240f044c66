"""What a method says about itself: its command-line options, its schedule, its study rows.

These are plain frozen dataclasses, importable without torch, that a method class carries as
class attributes (see :class:`~fgssl.methods.base.Method`). The kit derives everything from
them: ``fgssl pretrain METHOD``'s flags, the training schedule per profile, the rows of
``fgssl demo`` and their order.

Example::

    >>> Option("grid", "tiles per side", choices=(2, 3, 4)).check(5)
    Traceback (most recent call last):
    ...
    ValueError: grid must be one of 2, 3, 4, got 5
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

WEIGHTS = ("trained", "random", "imagenet")  # where an entry's backbone weights come from


@dataclass(frozen=True)
class Option:
    """A constructor argument a method also takes on the command line, as ``--name`` (``_``
    written ``-``). ``choices`` or an inclusive ``minimum`` / ``maximum`` say what is
    accepted; the value's type is the constructor default's."""

    name: str
    help: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check(self, value: Any, called: str | None = None) -> Any:
        """``value`` if accepted, else a ``ValueError`` naming ``called`` (default: the
        parameter's name; the command line passes its flag) and what is accepted."""
        called = called or self.name
        if value is None:  # the method decides (a resolved setting)
            return value
        if self.choices and value not in self.choices:
            raise ValueError(f"{called} must be one of {', '.join(map(str, self.choices))}, "
                             f"got {value}")
        low, high = self.minimum, self.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            accepted = f"from {low:g} to {high:g}" if low is not None and high is not None \
                else f"at least {low:g}" if low is not None else f"at most {high:g}"
            raise ValueError(f"{called} must be {accepted}, got {value}")
        return value


@dataclass(frozen=True)
class Schedule:
    """How long and in what batches a method trains in one profile, where that differs from
    the profile's defaults (``None``: the default)."""

    epochs: int | None = None
    batch_size: int | None = None


@dataclass(frozen=True)
class Recipe:
    """How the study trains a network end to end on a label budget (instead of probing it
    frozen).

    Args:
        head: the head put on the backbone: ``"linear"``, or a registered method's name whose
            class takes a ``backbone``, e.g. ``"pmg"``.
        backbone_lr_factor: the backbone's learning rate relative to the head's (1.0: from
            scratch).
        epochs_of: whose schedule it trains for at most: ``"finetune"``, the fine-tuning
            protocol's, or a method's name."""

    head: str = "linear"
    backbone_lr_factor: float = 0.1
    epochs_of: str = "finetune"


def schedules(**per_profile: Schedule) -> Mapping[str, Schedule]:
    """A method's schedule by profile name, read-only: ``schedules(cpu=Schedule(30, 64))``."""
    return MappingProxyType(per_profile)


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Entry:
    """A row of the study (``fgssl demo``): a backbone it evaluates, and how it gets it.

    - ``weights``: ``"trained"`` by its method's pretraining run with ``options`` (one run
      shared by the entries with the same options), ``"random"`` (its method's network
      untrained, seeded), or ``"imagenet"`` (torchvision's weights, when cached);
    - ``features``: which of its method's networks is evaluated (SRGAN: ``"d"`` or ``"g"``);
    - ``end_to_end``: trained on every label budget by this recipe, not probed frozen;
    - ``not_finetuned``: why it gets no fine-tuning row (``None``: it gets one);
    - ``all_labels_only``: probed with all labels only (it has seen them all in training);
    - ``opt_in``: run only when named (``--methods``), e.g. for being slow on a CPU;
    - ``cost``: about how long its work takes relative to the others (units run longest
      first, so that side-by-side workers finish together).
    """

    name: str
    description: str
    weights: str = "trained"
    options: Mapping[str, Any] = field(default_factory=dict)
    features: str | None = None
    end_to_end: Recipe | None = None
    not_finetuned: str | None = None
    all_labels_only: bool = False
    opt_in: bool = False
    cost: float = 1.0

    def __post_init__(self) -> None:
        if self.weights not in WEIGHTS:
            raise ValueError(f"an entry's weights are one of {', '.join(WEIGHTS)}, got "
                             f"{self.weights!r}")
        object.__setattr__(self, "options", _frozen(self.options))
