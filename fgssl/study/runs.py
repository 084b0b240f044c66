"""Run folders and ``load_or_train``: trained methods by name, reused or trained now.

``load_or_train`` is what lets every notebook stand alone: it returns a trained method from
``runs/<profile>/<data>/<method>[-option=value...]-seed<s>/`` when a finished checkpoint is
there, and otherwise trains it (resuming a partial run) with a progress bar whose ETA is the
honest time estimate. :func:`pretrain` is the training itself, as ``fgssl pretrain`` runs it:
the method's data (the unlabelled pool, or a label budget of train for a method that learns
from labels), its schedule, and monitors on val after every epoch.

Example::

    >>> simclr = load_or_train("simclr", profile="ci")    # doctest: +SKIP
    >>> simclr.backbone                                    # what gets evaluated
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset, Subset
from tqdm.auto import tqdm

from fgssl.config import Profile, runs_root, torchrun_launch
from fgssl.config import profile as get_profile
from fgssl.data import catalog
from fgssl.data.splits import label_subset, repeated_budget
from fgssl.evaluate.monitors import KNNMonitor, PretextMonitor
from fgssl.methods.base import Method
from fgssl.methods.checkpoints import (
    defaults_changed_since,
    method_from_checkpoint,
    settings_added_since,
)
from fgssl.methods.registry import method_class, method_classes
from fgssl.models.backbones import build_backbone
from fgssl.train import Hardware, Hyperparameters, ProgressHook, Watch, fit
from fgssl.utils import CHECKPOINT, RUN_KEYS, load_checkpoint

MONITORED_EPOCHS = 12  # pretrain() runs its monitors on about this many epochs, and the last
TIMED_STEPS = 12  # steps timed by step_seconds(), after one that warms up


def untrained(cls: type[Method], prof: Profile, features: str | None, seed: int = 0
              ) -> nn.Module:
    """``cls``'s network ``features`` at random init, seeded, built with the options of its
    untrained study entries (SRGAN's: no content loss to set up)."""
    torch.manual_seed(seed)
    options = next((e.options for e in cls.entries if e.weights == "random"), {})
    return cls.build(prof, **options).feature_backbone(features)


def backbone_for(checkpoint: str, prof: Profile, seed: int = 0, features: str | None = None
                 ) -> tuple[str, nn.Module]:
    """``(name, backbone)`` of a checkpoint, or of ``"random"``: a seeded random-init one.
    ``features`` picks another of the method's networks (SRGAN's ``"d"`` or ``"g"``: named
    ``srgan-d``, ``srgan-g``); with ``"random"``, that network untrained (``random-srgan-d``)."""
    if checkpoint == "random":
        if features is None:
            torch.manual_seed(seed)
            return "random", build_backbone(prof.backbone, prof.image_size)
        owner = _owner_of(features)
        return f"random-{owner.name}-{features}", untrained(owner, prof, features, seed)
    method = method_from_checkpoint(checkpoint)
    if features is None:
        return method.name, method.backbone
    if features not in type(method).feature_choices:
        raise ValueError(f"features {features!r} are {_owner_of(features).name}'s; "
                         f"{checkpoint} is a {method.name} checkpoint")
    return f"{method.name}-{features}", method.feature_backbone(features)


def _owner_of(features: str) -> type[Method]:
    """The method whose networks include ``features``."""
    owners = [cls for cls in method_classes() if features in cls.feature_choices]
    if not owners:
        known = sorted({f for cls in method_classes() for f in cls.feature_choices})
        raise ValueError(f"no method has features {features!r}: choose one of "
                         f"{', '.join(known)}")
    return owners[0]


def training_data(name: str, data: str, prof: Profile, root: str | None, labels: float,
                  seed: int, size: int | None = None) -> Dataset:
    """What a method trains on: the unlabelled pool, or for a method that learns from labels
    a budget of train (repeated to the size of train:
    :func:`~fgssl.data.splits.repeated_budget`)."""
    if not method_class(name).learns_from_labels:
        return catalog.dataset(data, "unlabelled", root, size=size or prof.image_size,
                               profile=prof)
    train = catalog.dataset(data, "train", root, size=prof.image_size, profile=prof)
    if labels >= 1.0:
        return train
    return repeated_budget(train, label_subset(train.labels, fraction=labels, seed=seed))


def default_out(name: str, prof: Profile, data: str, labels: float = 1.0, seed: int = 0,
                epochs: int | None = None, **options: Any) -> Path:
    """``runs/<profile>/<data>/<method>[-option=value...][-labels=f][-epochs=n]-seed<s>``;
    ``epochs`` is named only when it is not the method's schedule for the profile."""
    tag = "-".join([name, *(f"{k}={v}" for k, v in sorted(options.items()))])
    if labels < 1.0:
        tag += f"-labels={labels:g}"
    if epochs is not None and epochs != method_class(name).epochs_for(prof):
        tag += f"-epochs={epochs}"
    return runs_root() / prof.name / data / f"{tag}-seed{seed}"


def pretrain(name: str, prof: Profile, data: str = "synthbirds", root: str | None = None,
             labels: float = 1.0, seed: int = 0, epochs: int | None = None,
             out: str | os.PathLike[str] | None = None, resume: bool = True,
             lr: float | None = None, batch_size: int | None = None,
             hardware: Hardware | None = None, progress_bar: bool = True,
             on_step: ProgressHook | None = None, **options: Any
             ) -> tuple[Method, list[dict[str, Any]]]:
    """Build method ``name`` (seeded; ``options`` are its settings) and train it,
    monitoring a kNN classifier and the pretext task on val after every epoch (every few for
    long runs: about ``MONITORED_EPOCHS`` of them, and the last). Under torchrun the method's
    ``distributed_settings`` are the defaults (SimCLR: negatives gathered from every
    process)."""
    cls = method_class(name)
    if labels < 1.0 and not cls.learns_from_labels:
        raise ValueError(f"labels={labels:g}: {name} learns without labels, from the "
                         "unlabelled pool; a label budget is for methods that learn from labels")
    if resume and out is not None and (Path(out) / CHECKPOINT).is_file():
        load_checkpoint(Path(out) / CHECKPOINT, keys=RUN_KEYS)  # unreadable: said before the data
    train = catalog.dataset(data, "train", root, size=prof.image_size, profile=prof)
    val = catalog.dataset(data, "val", root, size=prof.image_size, profile=prof)
    if torchrun_launch() is not None:
        options = {**cls.distributed_settings, **options}
    torch.manual_seed(seed)
    method = cls.build(prof, num_classes=int(train.labels.max()) + 1, **options)
    size = method.data_size or prof.image_size  # SRGAN: its high-resolution crops
    pretext_val = val if size == prof.image_size else \
        catalog.dataset(data, "val", root, size=size, profile=prof)
    history = fit(method, training_data(name, data, prof, root, labels, seed, size), prof, out,
                  resume=resume,
                  hyper=Hyperparameters(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed),
                  hardware=hardware or Hardware(),
                  watch=Watch(monitors=[KNNMonitor(train, val), PretextMonitor(pretext_val)],
                              monitor_every=max(1, (epochs or cls.epochs_for(prof))
                                                // MONITORED_EPOCHS),
                              progress_bar=progress_bar, on_step=on_step))
    return method, history


def load_or_train(name: str, profile: str | Profile | None = None, data: str = "synthbirds",
                  root: str | None = None, labels: float = 1.0, seed: int = 0,
                  epochs: int | None = None, progress_bar: bool = True,
                  on_step: ProgressHook | None = None,
                  say: Callable[[str], None] | None = tqdm.write, **options: Any) -> Method:
    """A trained method: loaded when a finished run exists, else trained (or resumed).
    ``say`` is told first which it is, and before training how long it will take here
    (:func:`training_estimate`)."""
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    finished = finished_run(name, prof, data, labels, seed, epochs, **options)
    if finished is not None:
        if say is not None:
            say(f"{name}: the finished run in {finished} is loaded, not trained again")
        return method_from_checkpoint(finished)
    out = default_out(name, prof, data, labels, seed, epochs, **options)
    if say is not None:
        say(training_estimate(name, prof, data, root, labels, epochs, out, **options))
    return pretrain(name, prof, data, root, labels, seed, epochs, out,
                    progress_bar=progress_bar, on_step=on_step, **options)[0]


def training_estimate(name: str, prof: Profile, data: str = "synthbirds",
                      root: str | None = None, labels: float = 1.0, epochs: int | None = None,
                      out: Path | None = None, **options: Any) -> str:
    """How long training ``name`` takes on this machine, in words: its steps (epochs x
    images / batch, less the epochs a partial run in ``out`` has done) times
    :func:`step_seconds`, measured now."""
    cls = method_class(name)
    epochs = epochs or cls.epochs_for(prof)
    done = load_checkpoint(out / CHECKPOINT, keys=RUN_KEYS)["epoch"] \
        if out is not None and (out / CHECKPOINT).is_file() else 0
    seconds, images = step_seconds(name, prof, data, root, labels, **options)
    batch = min(cls.batch_size_for(prof), images)
    steps = (epochs - done) * max(1, images // batch)
    resumed = f", resuming after epoch {done}" if done else ""
    return (f"training {name} ({prof.name} profile): {epochs} epoch{'s' * (epochs != 1)} of "
            f"{images:,} images in "
            f"batches of {batch}{resumed}, {steps:,} steps at {seconds:.2g} s each (timed just "
            f"now) = about {_duration(steps * seconds)}, and a few seconds a monitored epoch")


def step_seconds(name: str, prof: Profile, data: str = "synthbirds", root: str | None = None,
                 labels: float = 1.0, **options: Any) -> tuple[float, int]:
    """``(seconds per training step of name here, images in its training data)``: a
    throwaway copy of the method trains ``TIMED_STEPS`` steps (after one that warms up) on
    the first batches of its data, as :func:`fit` trains; the random state is left as it
    was, and nothing is written."""
    cls = method_class(name)
    train_labels = catalog.dataset(data, "train", root, size=prof.image_size,
                                   profile=prof).labels
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the real run says it
        method = cls.build(prof, num_classes=int(train_labels.max()) + 1, **options)
        full = training_data(name, data, prof, root, labels, 0,
                             method.data_size or prof.image_size)
        batch = min(cls.batch_size_for(prof), len(full))
        count = min(len(full), batch * (TIMED_STEPS + 1))
        sample = Subset(full.dataset, full.indices[:count]) if isinstance(full, Subset) \
            else Subset(full, range(count))
        stamps: list[float] = []  # after each step
        started = time.perf_counter()
        fit(method, sample, prof, hyper=Hyperparameters(epochs=1, batch_size=batch),
            watch=Watch(progress_bar=False, trace_points=1,
                        on_step=lambda done, total: stamps.append(time.perf_counter())))
        finished = time.perf_counter()  # fit waited for the device at the epoch's end
    if len(stamps) == 1:  # one batch of data: its step, setup included
        return finished - started, len(full)
    return (finished - stamps[0]) / (len(stamps) - 1), len(full)  # the steps after the first


def _duration(seconds: float) -> str:
    """``under a second``, ``45 s``, ``3.2 min`` or ``1.5 h``."""
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def finished_run(name: str, prof: Profile, data: str = "synthbirds", labels: float = 1.0,
                 seed: int = 0, epochs: int | None = None, **options: Any) -> Path | None:
    """The folder of a finished run of ``name`` in ``runs/`` (all its epochs done), if any;
    an error for one saved before settings its method has now (:func:`settings_added_since`)
    or under defaults that have changed since (:func:`defaults_changed_since`), which would
    be reused silently as if it were the method asked for."""
    out = default_out(name, prof, data, labels, seed, epochs, **options)
    if not (out / CHECKPOINT).is_file():
        return None
    state = load_checkpoint(out / CHECKPOINT, keys=RUN_KEYS)
    unrecorded = settings_added_since(state)
    if unrecorded:
        raise ValueError(f"{out} was trained by an earlier fgssl, before {name} had the "
                         f"settings it has now ({', '.join(unrecorded)}), so it is not the "
                         f"{name} asked for: delete that folder to train again, or move it to "
                         "keep it")
    changed = defaults_changed_since(state, asked=options)
    if changed:
        saved = {k: v for k, (v, _) in changed.items()}
        described = ", ".join(f"{k}={v!r} (the default is now {now!r})"
                              for k, (v, now) in changed.items())
        keep = default_out(name, prof, data, labels, seed, epochs, **options, **saved)
        raise ValueError(f"{out} was trained with {described}, so it is not the {name} asked "
                         f"for: delete that folder to train again, or rename it to {keep} "
                         "to keep it as the run with those settings")
    return out if state["epoch"] >= (epochs or method_class(name).epochs_for(prof)) else None
