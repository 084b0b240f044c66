"""Methods by name, checkpoints back to methods, and ``load_or_train``.

``load_or_train`` is what lets every notebook stand alone: it returns a trained method from
``runs/<profile>/<data>/<method>/`` when a finished checkpoint is there, and otherwise trains
it (resuming a partial run) with a progress bar whose ETA is the honest time estimate.

Example::

    >>> simclr = load_or_train("simclr", profile="ci")    # doctest: +SKIP
    >>> simclr.backbone                                    # what gets evaluated
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from fgssl.config import Profile, runs_root, torchrun_launch
from fgssl.config import profile as get_profile
from fgssl.data import catalog
from fgssl.data.splits import label_subset, repeated_budget
from fgssl.methods.base import Method
from fgssl.methods.jigsaw import Jigsaw
from fgssl.methods.pmg import PMG
from fgssl.methods.simclr import SimCLR
from fgssl.methods.srgan import SRGAN
from fgssl.methods.supervised import Supervised
from fgssl.models.backbones import build_backbone
from fgssl.train import CHECKPOINT, KNNMonitor, PretextMonitor, ProgressHook, fit
from fgssl.utils import load_checkpoint

METHODS: dict[str, type[Method]] = {"simclr": SimCLR, "jigsaw": Jigsaw, "srgan": SRGAN,
                                     "supervised": Supervised, "pmg": PMG}
SSL_METHODS = ("simclr", "jigsaw", "srgan")
MONITORED_EPOCHS = 12  # pretrain() runs its monitors on about this many epochs, and the last


def method_names() -> list[str]:
    return list(METHODS)


def build_method(name: str, prof: Profile, num_classes: int | None = None,
                 **options: Any) -> Method:
    """A fresh method for a profile's backbone and image size (``options`` go to its class)."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}: choose one of {', '.join(METHODS)}")
    common = {"backbone_name": prof.backbone, "image_size": prof.image_size}
    if name == "srgan":  # its own networks: the discriminator's or generator's features
        return SRGAN(image_size=prof.image_size, **options)
    if name in ("supervised", "pmg"):
        if num_classes is None:
            raise ValueError(f"the {name} method needs the number of classes")
        return METHODS[name](num_classes, **common, **options)
    return METHODS[name](**common, **options)


def method_from_checkpoint(path: str | os.PathLike[str]) -> Method:
    """Rebuild the method a checkpoint (file, or the folder holding checkpoint.pt) was made by."""
    path = Path(path)
    state = load_checkpoint(path / CHECKPOINT if path.is_dir() else path)
    if state.get("method") not in METHODS:
        raise ValueError(f"{path} is not a checkpoint of one of {', '.join(METHODS)}")
    try:
        method = METHODS[state["method"]](**state["config"])
        method.load_state_dict(state["model"])
    except (TypeError, RuntimeError) as error:  # unknown arguments, weights of another shape
        raise ValueError(f"{path} was saved by another version of fgssl's {state['method']} and "
                         "does not fit this one: delete it to train again, or use another --out"
                         ) from error
    method.history, method.trace = state["history"], state.get("trace", [])
    return method


def backbone_for(checkpoint: str, prof: Profile, seed: int = 0, features: str | None = None
                 ) -> tuple[str, nn.Module]:
    """``(name, backbone)`` of a checkpoint, or of ``"random"``: a seeded random-init one.
    ``features`` picks an SRGAN's network: ``"d"`` (``srgan-d``) or ``"g"`` (``srgan-g``);
    with ``"random"``, that network untrained (``random-srgan-d``, ``random-srgan-g``)."""
    if checkpoint == "random":
        torch.manual_seed(seed)
        if features is None:
            return "random", build_backbone(prof.backbone, prof.image_size)
        untrained = build_method("srgan", prof, content="none")  # no loss: no VGG notice
        return f"random-srgan-{features}", untrained.feature_backbone(features)
    method = method_from_checkpoint(checkpoint)
    if features is None:
        return method.name, method.backbone
    if not isinstance(method, SRGAN):
        raise ValueError(f"--features is for SRGAN checkpoints; {checkpoint} is {method.name}")
    return f"srgan-{features}", method.feature_backbone(features)


def training_data(name: str, data: str, prof: Profile, root: str | None, labels: float,
                  seed: int, size: int | None = None) -> Dataset:
    """What a method trains on: the unlabelled pool for SSL, a label budget of train else
    (repeated to the size of train, :func:`~fgssl.data.splits.repeated_budget`)."""
    if name in SSL_METHODS:
        return catalog.dataset(data, "unlabelled", root, size=size or prof.image_size,
                               profile=prof)
    train = catalog.dataset(data, "train", root, size=prof.image_size, profile=prof)
    if labels >= 1.0:
        return train
    return repeated_budget(train, label_subset(train.labels, fraction=labels, seed=seed))


def default_out(name: str, prof: Profile, data: str, labels: float = 1.0, seed: int = 0,
                epochs: int | None = None, **options: Any) -> Path:
    """``runs/<profile>/<data>/<method>[-variant][-option=value...][-labels=f][-epochs=n]
    -seed<s>``; ``epochs`` is named only when it is not the profile's."""
    extras = dict(options)
    head = f"{name}-{extras.pop('variant', 'standard')}" if name == "simclr" else name
    tag = "-".join([head, *(f"{k}={v}" for k, v in sorted(extras.items()))])
    if labels < 1.0:
        tag += f"-labels={labels:g}"
    if epochs is not None and epochs != prof.epochs_for(name):
        tag += f"-epochs={epochs}"
    return runs_root() / prof.name / data / f"{tag}-seed{seed}"


def pretrain(name: str, prof: Profile, data: str = "synthbirds", root: str | None = None,
             labels: float = 1.0, seed: int = 0, epochs: int | None = None,
             out: str | os.PathLike[str] | None = None, resume: bool = True,
             lr: float | None = None, progress: bool | ProgressHook = True,
             batch_size: int | None = None, sync_batchnorm: bool = False,
             compile: bool = False, **options: Any) -> tuple[Method, list[dict[str, Any]]]:
    """Build method ``name`` (seeded) and train it, monitoring a kNN classifier and the
    pretext task on val after every epoch (every few for long runs: about
    ``MONITORED_EPOCHS`` of them, and the last). Under torchrun, SimCLR gathers its negatives
    from every process unless ``gather_negatives`` says otherwise."""
    train = catalog.dataset(data, "train", root, size=prof.image_size, profile=prof)
    val = catalog.dataset(data, "val", root, size=prof.image_size, profile=prof)
    if name == "simclr" and torchrun_launch() is not None:
        options.setdefault("gather_negatives", True)
    torch.manual_seed(seed)
    method = build_method(name, prof, num_classes=int(train.labels.max()) + 1, **options)
    size = method.data_size or prof.image_size  # SRGAN: its high-resolution crops
    pretext_val = val if size == prof.image_size else \
        catalog.dataset(data, "val", root, size=size, profile=prof)
    history = fit(method, training_data(name, data, prof, root, labels, seed, size), prof, out,
                  resume=resume, epochs=epochs, lr=lr, seed=seed,
                  monitors=[KNNMonitor(train, val), PretextMonitor(pretext_val)],
                  monitor_every=max(1, (epochs or prof.epochs_for(name)) // MONITORED_EPOCHS),
                  progress=progress, batch_size=batch_size, sync_batchnorm=sync_batchnorm,
                  compile=compile)
    return method, history


def load_or_train(name: str, profile: str | Profile | None = None, data: str = "synthbirds",
                  root: str | None = None, labels: float = 1.0, seed: int = 0,
                  epochs: int | None = None, progress: bool | ProgressHook = True,
                  **options: Any) -> Method:
    """A trained method: loaded when a finished run exists, else trained (or resumed)."""
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    finished = finished_run(name, prof, data, labels, seed, epochs, **options)
    if finished is not None:
        return method_from_checkpoint(finished)
    out = default_out(name, prof, data, labels, seed, epochs, **options)
    return pretrain(name, prof, data, root, labels, seed, epochs, out, progress=progress,
                    **options)[0]


def finished_run(name: str, prof: Profile, data: str = "synthbirds", labels: float = 1.0,
                 seed: int = 0, epochs: int | None = None, **options: Any) -> Path | None:
    """The folder of a finished run of ``name`` in ``runs/`` (all its epochs done), if any;
    an error for one saved before settings its method has now (:func:`settings_added_since`),
    which would be reused silently as if it had them."""
    out = default_out(name, prof, data, labels, seed, epochs, **options)
    if not (out / CHECKPOINT).is_file():
        return None
    state = load_checkpoint(out / CHECKPOINT)
    unrecorded = settings_added_since(state)
    if unrecorded:
        raise ValueError(f"{out} was trained by an earlier fgssl, before {name} had the "
                         f"settings it has now ({', '.join(unrecorded)}), so it is not the "
                         f"{name} asked for: delete that folder to train again, or move it to "
                         "keep it")
    return out if state["epoch"] >= (epochs or prof.epochs_for(name)) else None


def settings_added_since(state: dict[str, Any]) -> list[str]:
    """The settings (constructor arguments) of a checkpoint's method that its saved config
    lacks: added to fgssl after it was saved, so the run followed their earlier behaviour,
    whatever their default is now. Empty for a checkpoint of no known method (loading it
    says so)."""
    if state.get("method") not in METHODS:
        return []
    method = METHODS[state["method"]]
    arguments = inspect.signature(method).parameters
    return sorted(set(arguments) - set(state["config"]) - set(method.runtime_arguments))
