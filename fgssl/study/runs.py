"""Run folders and ``load_or_train``: trained methods by name, reused or trained now.

A :class:`Run` describes one training run (method and options, profile and image size,
dataset, labels, seed, epochs); the functions that train, time or find a run take one.
``load_or_train`` is what lets every notebook stand alone: it returns a trained method from
the run's folder (``runs/<profile>/<dataset key>/<method>[-option=value...]-seed<s>/``, the
key naming a folder of images by its path, so two folders never share a model) when a
finished checkpoint of the same data is there, and otherwise trains it (resuming a partial
run) with a progress bar whose ETA is the honest time estimate. :func:`pretrain` is the
training itself, as ``fgssl pretrain`` runs it: the method's data (the unlabelled pool, or a
label budget of train for a method that learns from labels), its schedule, and monitors on
val after every epoch.

Example::

    >>> simclr = load_or_train("simclr", profile="ci")    # doctest: +SKIP
    >>> simclr.backbone                                    # what gets evaluated
    >>> mine = load_or_train("simclr", "cpu", data="folder", root="data/mine", size=64)
    ...                                                    # doctest: +SKIP
"""

# Over 300 lines: a run's description, folder, training and timing, which travel together.

from __future__ import annotations

import dataclasses
import functools
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset, Subset
from tqdm.auto import tqdm

from fgssl.colab import runs_lost_with_runtime
from fgssl.config import Profile, at_size, chosen_size, runs_root, torchrun_launch
from fgssl.config import profile as get_profile
from fgssl.data import catalog
from fgssl.data.identity import DatasetIdentity
from fgssl.data.splits import check_label_fraction, label_subset, repeated_budget
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
    """The backbone of a trained run, or a seeded random-init one.

    Args:
        checkpoint: a checkpoint's path, or ``"random"``.
        prof: the profile (the random init's backbone and image size).
        seed: seeds the random init.
        features: another of the method's networks (SRGAN's ``"d"`` or ``"g"``: named
            ``srgan-d``, ``srgan-g``); with ``"random"``, that network untrained
            (``random-srgan-d``).

    Returns:
        ``(name, backbone)``: the name the study's tables give it, and the network."""
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


@dataclass(frozen=True)
class Run:
    """One training run, described once; build one with :meth:`of`. The dataset's
    :attr:`identity` is read once, when first asked for.

    Args:
        method: a registered method's name.
        profile: the profile; its ``image_size`` is the run's (the profile's own, or the
            size chosen with :meth:`of`'s ``size``).
        data: the dataset's name, e.g. ``"synthbirds"`` or ``"folder:..."``.
        root: where the dataset lives (default: the kit's data folder).
        labels: the label budget, a fraction of the train split (methods that learn from
            labels).
        seed: seeds the method's init and the batches.
        epochs: the epochs (default: the method's schedule for the profile).
        options: the method's settings, as sorted (name, value) pairs.
        batch_size: the batch (default: the method's for the profile).
        lr: the rate for a batch of 256 (default: the method's)."""

    method: str
    profile: Profile
    data: str = "synthbirds"
    root: str | None = None
    labels: float = 1.0
    seed: int = 0
    epochs: int | None = None
    options: tuple[tuple[str, Any], ...] = ()
    batch_size: int | None = None
    lr: float | None = None

    def __post_init__(self) -> None:
        """A mistake in the description is an error now, before anything is read or trained."""
        cls = method_class(self.method)  # an unknown name: the error lists the known ones
        check_label_fraction(self.labels)
        if self.labels < 1.0 and not cls.learns_from_labels:
            raise ValueError(f"labels={self.labels:g}: {self.method} learns without labels, from "
                             "the unlabelled pool; a label budget is for methods that learn "
                             "from labels")
        Hyperparameters(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                        seed=self.seed)  # checks them as training will

    @classmethod
    def of(cls, method: str, profile: str | Profile | None = None, data: str = "synthbirds",
           root: str | os.PathLike[str] | None = None, size: int | None = None,
           labels: float = 1.0, seed: int = 0, epochs: int | None = None,
           batch_size: int | None = None, lr: float | None = None, **options: Any) -> Run:
        """The run of ``method`` so described (``size``: images read at that size)."""
        prof = profile if isinstance(profile, Profile) else get_profile(profile)
        return cls(method, at_size(prof, size), data, None if root is None else str(root),
                   labels, seed, epochs, tuple(sorted(options.items())), batch_size, lr)

    @property
    def settings(self) -> dict[str, Any]:
        """The method's options, as keyword arguments."""
        return dict(self.options)

    @property
    def planned_epochs(self) -> int:
        return self.epochs or method_class(self.method).epochs_for(self.profile)

    @property
    def planned_batch_size(self) -> int:
        return self.batch_size or method_class(self.method).batch_size_for(self.profile)

    @functools.cached_property
    def identity(self) -> DatasetIdentity:
        """Where the dataset is and what it holds (:func:`fgssl.data.catalog.identity`)."""
        return catalog.identity(self.data, self.root)

    @property
    def folder(self) -> Path:
        """Where the run is kept by default: ``runs/<profile>/<dataset key>/<method>
        [-option=value...][-size=s][-labels=f][-epochs=n][-batch=b][-lr=r]-seed<s>``, the
        dataset key being ``synthbirds`` or the folder's (:func:`fgssl.data.catalog.data_key`);
        the size, labels, epochs, batch size and rate are named when not the defaults."""
        tag = "-".join([self.method, *(f"{k}={v}" for k, v in self.options)])
        if chosen_size(self.profile) is not None:
            tag += f"-size={self.profile.image_size}"
        if self.labels < 1.0:
            tag += f"-labels={self.labels:g}"
        if self.epochs is not None and \
                self.epochs != method_class(self.method).epochs_for(self.profile):
            tag += f"-epochs={self.epochs}"
        cls = method_class(self.method)
        if self.batch_size is not None and self.batch_size != cls.batch_size_for(self.profile):
            tag += f"-batch={self.batch_size}"
        if self.lr is not None and self.lr != cls.base_lr:
            tag += f"-lr={self.lr:g}"
        return runs_root() / self.profile.name / catalog.data_key(self.data, self.root) / \
            f"{tag}-seed{self.seed}"

    def with_options(self, **options: Any) -> Run:
        """The same run with some options set."""
        return dataclasses.replace(self, options=tuple(sorted({**self.settings,
                                                               **options}.items())))

    def provenance(self) -> dict[str, Any]:
        """What a checkpoint of this run records about its data (:func:`check_trained_on`)."""
        return {"data": self.identity.as_record(), "image_size": self.profile.image_size}


def training_data(run: Run, size: int | None = None) -> Dataset:
    """What a run trains on (at ``size``, default the run's): the unlabelled pool (the train
    images without labels and the unlabelled-only ones), or for a method that learns from
    labels a budget of train (repeated to the size of train:
    :func:`~fgssl.data.splits.repeated_budget`)."""
    prof = run.profile
    if not method_class(run.method).learns_from_labels:
        return catalog.dataset(run.data, "unlabelled", run.root, size=size or prof.image_size,
                               profile=prof)
    train = labelled_train(run)
    if run.labels >= 1.0:
        return train
    return repeated_budget(train, label_subset(train.labels, fraction=run.labels,
                                               seed=run.seed))


def labelled_train(run: Run) -> Dataset:
    """The train split of ``run``'s dataset at its size; an error for a method that learns
    from labels on a dataset without any (a folder of unlabelled images only)."""
    prof = run.profile
    train = catalog.dataset(run.data, "train", run.root, size=prof.image_size, profile=prof)
    if not len(train) and method_class(run.method).learns_from_labels:
        raise ValueError(f"{run.root or run.data} has no labelled images, and {run.method} "
                         f"learns from labels: add class folders ({run.root}/<class>/<image>)")
    return train


def check_trained_on(state: dict[str, Any], run: Run, where: Path) -> None:
    """Refuse a checkpoint (``state``, from ``where``) trained on another dataset than
    ``run``'s, or on the same folder before its content changed, or at another image size:
    reused or resumed, it would stand for a model of this data that it is not. A checkpoint
    of an earlier fgssl, which recorded no dataset, is taken as the user placed it (the runs
    that fgssl kept for every folder in one place are never looked in:
    :func:`_say_legacy_runs`)."""
    recorded = state.get("provenance", {}).get("data")
    if recorded is None:
        return
    now = run.identity
    if recorded.get("location") != now.location or recorded.get("name") != now.name:
        raise ValueError(f"{where} was trained on {recorded.get('location') or recorded['name']}"
                         f", not on {now.location or now.name}: choose another --out (or "
                         "leave --out out: each dataset has its own run folders)")
    if recorded.get("content") != now.content:
        raise ValueError(f"the images in {now.location or now.name} have changed since {where} "
                         f"was trained on them: delete {where} to train again, or rename it to "
                         "keep it")
    size = state["provenance"].get("image_size")
    if size is not None and size != run.profile.image_size:
        raise ValueError(f"{where} was trained at {size} px, not {run.profile.image_size}: "
                         f"choose another --out, or --size {size}")


_LEGACY_SAID: set[Path] = set()


def _say_legacy_runs(run: Run) -> None:
    """Once per folder: runs an earlier fgssl kept under the dataset's bare name (one folder
    for every folder of images) are not reused."""
    if run.data == "synthbirds":
        return
    legacy = runs_root() / run.profile.name / run.data
    if legacy in _LEGACY_SAID or not legacy.is_dir() or legacy == run.folder.parent:
        return
    _LEGACY_SAID.add(legacy)
    warnings.warn(f"{legacy} holds runs of an earlier fgssl, which kept the runs of every "
                  f"{run.data} dataset there without saying which one: they are not reused; "
                  f"runs of {run.root or run.data} are now kept in {run.folder.parent} (move "
                  "a run there if it is this dataset's, or delete the old folder)", stacklevel=4)


def pretrain(run: Run, out: str | os.PathLike[str] | None = None, resume: bool = True,
             hardware: Hardware | None = None, progress_bar: bool = True,
             on_step: ProgressHook | None = None) -> tuple[Method, list[dict[str, Any]]]:
    """Build ``run``'s method (seeded) and train it, monitoring a kNN classifier and the
    pretext task on val after every epoch (every few for long runs: about
    ``MONITORED_EPOCHS`` of them, and the last; none on a folder of unlabelled images
    only). Every checkpoint records the dataset's
    identity and the image size; resuming one of another dataset is refused
    (:func:`check_trained_on`). Under torchrun the method's ``distributed_settings`` are the
    defaults (SimCLR: negatives gathered from every process)."""
    cls, prof, data, root = method_class(run.method), run.profile, run.data, run.root
    _say_legacy_runs(run)
    if resume and out is not None and (Path(out) / CHECKPOINT).is_file():
        state = load_checkpoint(Path(out) / CHECKPOINT, keys=RUN_KEYS)  # unreadable: said now
        check_trained_on(state, run, Path(out))
    train = labelled_train(run)
    val = catalog.dataset(data, "val", root, size=prof.image_size, profile=prof)
    options = run.settings
    if torchrun_launch() is not None:
        options = {**cls.distributed_settings, **options}
    torch.manual_seed(run.seed)
    method = cls.build(prof, num_classes=_num_classes(train.labels), **options)
    size = method.data_size or prof.image_size  # SRGAN: its high-resolution crops
    pretext_val = val if size == prof.image_size else \
        catalog.dataset(data, "val", root, size=size, profile=prof)
    monitors = [KNNMonitor(train, val), PretextMonitor(pretext_val)] if len(val) else []
    data_seen = training_data(run, size)
    history = fit(method, data_seen, prof, out, resume=resume,
                  hyper=Hyperparameters(epochs=run.epochs, batch_size=run.batch_size,
                                        lr=run.lr, seed=run.seed),
                  hardware=hardware or Hardware(),
                  watch=Watch(monitors=monitors,  # none without labelled images
                              monitor_every=max(1, run.planned_epochs // MONITORED_EPOCHS),
                              progress_bar=progress_bar, on_step=on_step),
                  provenance={**run.provenance(), "images": len(data_seen)})
    return method, history


def load_or_train(method: str | Run, profile: str | Profile | None = None, *,
                  progress_bar: bool = True, on_step: ProgressHook | None = None,
                  say: Callable[[str], None] | None = tqdm.write, **description: Any) -> Method:
    """A trained method: loaded when a finished run of the same dataset exists, else trained
    (or resumed) in the run's folder.

    Args:
        method: a :class:`Run`, or a method's name, whose run ``profile`` and ``description``
            complete as :meth:`Run.of` takes them (``data``, ``root``, ``size``: the images
            read at that size, ``labels``, ``seed``, ``epochs``, ``batch_size``, ``lr`` and
            the method's options).
        progress_bar, on_step: follow the training (as :class:`~fgssl.train.Watch`'s).
        say: told first which it is, and before training how long it will take here
            (:func:`training_estimate`).

    Returns:
        The method, trained.
    """
    if isinstance(method, Run):
        if profile is not None or description:
            raise TypeError("load_or_train(run) takes the run as it is: its profile and "
                            "settings are part of it (Run.with_options makes another)")
        run = method
    else:
        run = Run.of(method, profile, **description)
    finished = finished_run(run)
    if finished is not None:
        if say is not None:
            say(f"{run.method}: the finished run in {finished} is loaded, not trained again")
        return method_from_checkpoint(finished)
    if say is not None:
        say(training_estimate(run, run.folder))
        lost = runs_lost_with_runtime()
        if lost is not None:
            say(lost)
    return pretrain(run, run.folder, progress_bar=progress_bar, on_step=on_step)[0]


def training_estimate(run: Run, out: Path | None = None) -> str:
    """How long training ``run`` takes on this machine: its steps (epochs × images / batch,
    less the epochs a partial run in ``out`` has done) times :func:`step_seconds`, measured
    now.

    Args:
        run: the run.
        out: its folder, where a partial run may be continued.

    Returns:
        One line in words: the method, profile and schedule, the epochs, images and
        batches, the steps at the seconds each took just now, and the total."""
    prof = run.profile
    epochs = run.planned_epochs
    done = load_checkpoint(out / CHECKPOINT, keys=RUN_KEYS)["epoch"] \
        if out is not None and (out / CHECKPOINT).is_file() else 0
    seconds, images = step_seconds(run)
    batch = min(run.planned_batch_size, images)
    steps = (epochs - done) * max(1, images // batch)
    resumed = f", resuming after epoch {done}" if done else ""
    return (f"training {run.method} ({prof.name} profile, {prof.image_size} px: "
            f"{prof.schedule}): {epochs} "
            f"epoch{'s' * (epochs != 1)} of {images:,} images in "
            f"batches of {batch}{resumed}, {steps:,} steps at {seconds:.2g} s each (timed just "
            f"now) = about {_duration(steps * seconds)}, and a few seconds a monitored epoch")


def step_seconds(run: Run) -> tuple[float, int]:
    """``(seconds per training step of run here, images in its training data)``: a
    throwaway copy of the method trains ``TIMED_STEPS`` steps (after one that warms up) on
    the first batches of its data, as :func:`fit` trains; the random state is left as it
    was, and nothing is written."""
    cls, prof = method_class(run.method), run.profile
    train_labels = labelled_train(run).labels
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the real run says it
        method = cls.build(prof, num_classes=_num_classes(train_labels), **run.settings)
        full = training_data(dataclasses.replace(run, seed=0),
                             method.data_size or prof.image_size)
        batch = min(run.planned_batch_size, len(full))
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


def _num_classes(labels: Any) -> int:
    """The classes a method's head needs for the train ``labels`` (1 when there are none: a
    folder of unlabelled images, which only label-free methods train on)."""
    return int(max(labels)) + 1 if len(labels) else 1


def _duration(seconds: float) -> str:
    """``a second or less``, ``45 s``, ``3.2 min`` or ``1.5 h``."""
    if seconds < 1:
        return "a second or less"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def finished_run(run: Run) -> Path | None:
    """The folder of a finished run like ``run`` in ``runs/`` (all its epochs done), if any;
    an error for one trained on this folder before its images changed
    (:func:`check_trained_on`), saved before settings its method has now
    (:func:`settings_added_since`) or under defaults that have changed since
    (:func:`defaults_changed_since`), which would be reused silently as if it were the
    model asked for."""
    out, name = run.folder, run.method
    if not (out / CHECKPOINT).is_file():
        return None
    state = load_checkpoint(out / CHECKPOINT, keys=RUN_KEYS)
    check_trained_on(state, run, out)
    unrecorded = settings_added_since(state)
    if unrecorded:
        raise ValueError(f"{out} was trained by an earlier fgssl, before {name} had the "
                         f"settings it has now ({', '.join(unrecorded)}), so it is not the "
                         f"{name} asked for: delete that folder to train again, or move it to "
                         "keep it")
    changed = defaults_changed_since(state, asked=run.settings)
    if changed:
        saved = {k: v for k, (v, _) in changed.items()}
        described = ", ".join(f"{k}={v!r} (the default is now {now!r})"
                              for k, (v, now) in changed.items())
        keep = run.with_options(**saved).folder
        raise ValueError(f"{out} was trained with {described}, so it is not the {name} asked "
                         f"for: delete that folder to train again, or rename it to {keep} "
                         "to keep it as the run with those settings")
    return out if state["epoch"] >= run.planned_epochs else None
