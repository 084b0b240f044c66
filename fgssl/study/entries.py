"""The study's entries: every row ``fgssl demo`` can show, derived from the registered methods.

Each method class declares the entries it provides (:class:`~fgssl.methods.about.Entry`):
SimCLR its standard and best fine-grained views, SRGAN its discriminator and generator (and
the discriminator untrained), the supervised method its all-labels row and ``scratch``, PMG
its opt-in end-to-end rows. The study adds its own baselines, which belong to no method: the
profile's backbone at random init (``random``) and with ImageNet weights (``imagenet``), and
the majority-class floor. The table's order is the registration order, then the baselines.

Example::

    >>> [name for name in study_entries()][:2]                 # doctest: +SKIP
    ['simclr', 'simclr-object_crop']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fgssl.methods.about import Entry
from fgssl.methods.registry import method_class, method_classes

BASELINES = (
    Entry("random", "random-init backbone (no training)", weights="random", cost=10,
          not_finetuned="the scratch row is a random init trained on the budget"),
    Entry("imagenet", "ImageNet-pretrained weights (torchvision)", weights="imagenet", cost=20),
)
FLOOR = "majority class"
FLOOR_DESCRIPTION = "always the most frequent class of the labelled budget"


@dataclass(frozen=True)
class StudyEntry:
    """An entry and the method that declares it (``None``: one of the study's baselines)."""

    method: str | None
    entry: Entry

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def pretraining(self) -> str | None:
        """The pretraining run it needs, in words (``simclr variant=object_crop``); ``None``
        when it needs none (untrained, ImageNet weights, trained on each budget)."""
        if self.entry.weights != "trained" or self.method is None or self.entry.end_to_end:
            return None
        return " ".join([self.method, *(f"{k}={v}" for k, v in self.entry.options.items())])


def study_entries() -> dict[str, StudyEntry]:
    """Every entry, by name, in the table's order: each registered method's, then the
    study's baselines. Two entries of one name are an error."""
    found = [StudyEntry(cls.name, entry) for cls in method_classes() for entry in cls.entries]
    found += [StudyEntry(None, entry) for entry in BASELINES]
    table: dict[str, StudyEntry] = {}
    for item in found:
        if item.name in table or item.name == FLOOR:
            raise ValueError(f"two study entries are called {item.name!r}: rename one")
        table[item.name] = item
    return table


def describe(name: str) -> str:
    """One line saying what an entry (or the majority-class floor) is."""
    return FLOOR_DESCRIPTION if name == FLOOR else study_entries()[name].entry.description


DEFAULT = "default"  # in --methods: every entry that is not opt-in


def check_entries(methods: Sequence[str] | None) -> list[str]:
    """The study's entries to run, in the table's order: by default (or where ``methods``
    names ``"default"``) all but the opt-in ones, with any others named; unknown names are an
    error."""
    table = study_entries()
    defaults = [name for name, item in table.items() if not item.entry.opt_in]
    if not methods:
        return defaults
    if DEFAULT in methods:
        methods = [*defaults, *(name for name in methods if name != DEFAULT)]
    unknown = sorted(set(methods) - set(table))
    if unknown:
        raise ValueError(f"unknown --methods {', '.join(unknown)}: choose from "
                         f"{', '.join(table)}")
    return [name for name in table if name in methods]


def learned_without_labels(name: str) -> bool:
    """Whether entry ``name``'s backbone was trained by a method that learns without labels
    (the self-supervised rows; not the baselines, the untrained networks or the supervised)."""
    item = study_entries().get(name)
    return item is not None and item.method is not None and \
        item.entry.weights == "trained" and not method_class(item.method).learns_from_labels


def best_self_supervised(rows: Sequence[dict[str, Any]]) -> str:
    """The study's best self-supervised entry.

    Args:
        rows: the study's result rows (``results.json``'s).

    Returns:
        The name of the self-supervised entry with the highest linear probe on all labels;
        an error when the study had none."""
    scored = {row["method"]: row["top1_mean"] for row in rows
              if row["protocol"] == "linear" and row["labels"] == 1.0
              and learned_without_labels(row["method"])}
    if not scored:
        raise ValueError("the study has no self-supervised row: run it with one in --methods")
    return max(scored, key=scored.__getitem__)
