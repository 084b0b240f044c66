"""The Method interface: what :func:`fgssl.train.fit` needs to train anything, and what a
method says about itself.

A method owns a ``backbone`` (what gets evaluated; (B, 3, H, W) -> (B, D)) and whatever
pretext modules it needs. :func:`~fgssl.train.fit` owns the loop; a method only says

- ``views(images)``: the pretext inputs made from a batch of uint8 images (B, 3, H, W);
- ``training_step(inputs, labels)``: the loss (a scalar tensor) and a dict of numbers to log;
- ``optimizers(lr, weight_decay)``: its optimizer(s). A method with several (a GAN's generator
  and discriminator) overrides ``training_steps`` instead of ``training_step``: it yields one
  ``(optimizer index, loss, logs)`` at a time, and ``fit`` backpropagates that loss and steps
  that optimizer before asking for the next, so a later step sees the updated weights;
- ``after_step(optimizer_index)``: called after every optimizer step (a momentum target's
  update: BYOL, DINO); ``progress``, the fraction of the run done, is set by ``fit`` before
  every step, for schedules that change during training (momentum, temperature, the
  adversarial phase); ``frozen_parameters()`` names parameters to leave untouched at this
  point of the run, and ``clip_gradients`` a gradient norm to clip to;
- optionally ``pretext_metrics(images)``: how well the pretext task is solved on held-out
  images, which the pretraining monitors log on val (as ``val_<name>``).

What the rest of the kit knows of a method it reads from the class: ``name``, a one-line
``summary``, ``learns_from_labels`` (else it trains on the unlabelled pool), its
command-line ``options``, its ``schedule`` per profile where it differs from the profile's
defaults, its study ``entries``, the networks it can be evaluated by (``feature_choices``),
the settings it takes by default when trained under torchrun (``distributed_settings``),
and its settings:
``config()`` is the constructor's arguments as they were called (defaults filled in),
recorded by this base class when a method is made, and a checkpoint rebuilds the method
from them.

Example::

    >>> method = SimCLR(variant="gamma")                 # doctest: +SKIP
    >>> method.config()["variant"], SimCLR.epochs_for(profile("cpu"))
    ('gamma', 30)
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar

import torch
from torch import nn

from fgssl.config import Profile
from fgssl.methods.about import Entry, Option, Schedule

Inputs = torch.Tensor | tuple[torch.Tensor, ...]
Log = torch.Tensor | float  # a logged number; a tensor (detached) until fit() reads it
Step = tuple[int, torch.Tensor, dict[str, Log]]  # (optimizer index, loss, logs)
_CONTEXT = ("backbone_name", "image_size", "num_classes")  # what build() hands over


class Method(nn.Module):
    """Base class of every pretext task and baseline."""

    name: ClassVar[str] = "method"
    summary: ClassVar[str] = ""  # one line for ``fgssl pretrain --help``
    learns_from_labels: ClassVar[bool] = False
    options: ClassVar[tuple[Option, ...]] = ()
    schedule: ClassVar[Mapping[str, Schedule]] = MappingProxyType({})  # profile name -> it
    entries: ClassVar[tuple[Entry, ...]] = ()
    feature_choices: ClassVar[tuple[str, ...]] = ()  # networks to evaluate besides backbone
    distributed_settings: ClassVar[Mapping[str, Any]] = MappingProxyType({})  # under torchrun
    base_lr: ClassVar[float] = 0.1  # SGD learning rate for a batch of 256 (scaled linearly)
    data_size: int | None = None  # the image size it trains on, when not the profile's
    clip_gradients: float | None = None  # clip every step's gradient norm to this
    # constructor arguments that config() does not record: a backbone handed over at run time
    runtime_arguments: ClassVar[tuple[str, ...]] = ()
    # settings whose default the constructor resolves and records (``record_setting``)
    resolved_settings: ClassVar[tuple[str, ...]] = ()
    # True: fine-tuning may put a pretrained backbone under this method as its head (PMG): it
    # is built as cls(num_classes, image_size=, backbone=, backbone_lr_factor=) and classifies
    # with ``logits(images)``
    fine_tuning_head: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("fine_tuning_head"):
            missing = sorted({"num_classes", "image_size", "backbone", "backbone_lr_factor"}
                             - set(inspect.signature(cls.__init__).parameters))
            if missing or not callable(getattr(cls, "logits", None)):
                raise TypeError(f"{cls.__name__} is a fine_tuning_head: its constructor needs "
                                f"{', '.join(missing) or 'nothing more'} and it needs logits()")
        if "__init__" in cls.__dict__:
            cls.__init__ = _recording_settings(cls.__init__)  # type: ignore[method-assign]

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        if "_settings" not in self.__dict__:  # a class without a constructor of its own
            object.__setattr__(self, "_settings", {})
        self.backbone = backbone
        self.history: list[dict[str, Any]] = []
        self.trace: list[dict[str, Any]] = []  # finer than history: a few records per epoch
        self.progress = 0.0

    def config(self) -> dict[str, Any]:
        """The constructor arguments this method was made with (JSON-able), less the
        ``runtime_arguments``: ``type(method)(**method.config())`` makes it again."""
        return dict(self._settings)

    def record_setting(self, name: str, value: Any) -> None:
        """Record a setting as decided in the constructor (SRGAN's ``content="auto"`` becomes
        the loss it chose), so that a checkpoint rebuilds the method that trained."""
        if name not in self._settings or name not in type(self).resolved_settings:
            raise KeyError(f"{type(self).__name__} has no resolved setting {name!r}")
        self._settings[name] = value

    @classmethod
    def epochs_for(cls, prof: Profile) -> int:
        """Training epochs in profile ``prof``: the method's schedule, else the profile's."""
        epochs = cls.schedule[prof.name].epochs if prof.name in cls.schedule else None
        return epochs or prof.epochs

    @classmethod
    def batch_size_for(cls, prof: Profile) -> int:
        """Training batch size in profile ``prof``: the method's schedule, else the profile's."""
        batch = cls.schedule[prof.name].batch_size if prof.name in cls.schedule else None
        return batch or prof.batch_size

    @classmethod
    def build(cls, prof: Profile, num_classes: int | None = None, **options: Any) -> Method:
        """A fresh method for a profile: the profile's backbone and image size and
        ``num_classes``, each where the constructor takes it, and ``options`` (its settings)."""
        parameters = inspect.signature(cls).parameters
        unknown = sorted(set(options) - set(parameters) - set(cls.runtime_arguments))
        if unknown:
            settings = [p for p in parameters if p not in _CONTEXT]
            raise ValueError(f"{cls.name} has no setting {', '.join(unknown)}: its settings "
                             f"are {', '.join(settings)}")
        needs_classes = "num_classes" in parameters and \
            parameters["num_classes"].default is inspect.Parameter.empty
        if needs_classes and num_classes is None:
            raise ValueError(f"the {cls.name} method needs the number of classes")
        context = {"backbone_name": prof.backbone, "image_size": prof.image_size,
                   "num_classes": num_classes}
        return cls(**{k: v for k, v in context.items() if k in parameters and v is not None},
                   **options)

    def feature_backbone(self, features: str | None = None) -> nn.Module:
        """The network evaluated for ``features`` (one of ``feature_choices``; ``None``: the
        backbone)."""
        if features is None:
            return self.backbone
        raise ValueError(f"{self.name} is evaluated by its backbone only; features "
                         f"{features!r} belong to another method")

    def views(self, images: torch.Tensor) -> Inputs:
        raise NotImplementedError

    def training_step(self, inputs: Inputs, labels: torch.Tensor
                      ) -> tuple[torch.Tensor, dict[str, Log]]:
        raise NotImplementedError

    def forward(self, inputs: Inputs, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, Log]]:
        """The training step, as ``DistributedDataParallel`` calls it (under torchrun)."""
        return self.training_step(inputs, labels)

    def training_steps(self, inputs: Inputs, labels: torch.Tensor) -> Iterator[Step]:
        """One iteration as ``(optimizer index, loss, logs)`` steps; by default the single
        :meth:`training_step`, for optimizer 0."""
        loss, logs = self.training_step(inputs, labels)
        yield 0, loss, logs

    def after_step(self, optimizer_index: int) -> None:
        """Called by ``fit`` after every step of optimizer ``optimizer_index``; nothing by
        default (a momentum target is updated here)."""

    def frozen_parameters(self) -> list[nn.Parameter]:
        """Parameters to leave as they are at this point of the run (``progress``): their
        gradients are dropped before the optimizer steps. None by default."""
        return []

    def pretext_metrics(self, images: torch.Tensor) -> dict[str, Any]:
        """Pretext-task scores on held-out (B, 3, H, W) uint8 images; none by default."""
        return {}

    @contextlib.contextmanager
    def evaluating(self, device: torch.device, seed: int | None = None) -> Iterator[None]:
        """Eval mode inside the block, the mode before restored after it; with ``seed``, the
        random state seeded inside the block (a fixed held-out draw of views) and left as it
        was outside it."""
        was_training = self.training
        self.eval()
        try:
            if seed is None:
                yield
                return
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                torch.manual_seed(seed)
                yield
        finally:
            self.train(was_training)

    def optimizers(self, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
        """One SGD (momentum 0.9, Nesterov) over every parameter; no decay on norms and biases."""
        return [sgd([(list(self.parameters()), 1.0)], lr, weight_decay)]


def _recording_settings(init: Callable[..., None]) -> Callable[..., None]:
    """``init`` that first records its arguments (defaults filled in, options checked) as
    the method's settings; only the outermost constructor records (``super().__init__``
    calls inside it do not)."""
    signature = inspect.signature(init)
    variadic = [p.name for p in signature.parameters.values()
                if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if variadic:
        raise TypeError(f"{init.__qualname__}: a method's settings are named arguments, not "
                        f"*{variadic[0]}")

    @functools.wraps(init)
    def recorded(self: Method, *args: Any, **kwargs: Any) -> None:
        if "_settings" not in self.__dict__:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            settings = {name: value for name, value in list(bound.arguments.items())[1:]
                        if name not in type(self).runtime_arguments}
            for option in type(self).options:
                if option.name in settings:
                    option.check(settings[option.name])
            object.__setattr__(self, "_settings", settings)  # before nn.Module's own state
        init(self, *args, **kwargs)

    return recorded


def sgd(parts: Sequence[tuple[Sequence[nn.Parameter], float]], lr: float,
        weight_decay: float) -> torch.optim.SGD:
    """SGD (momentum 0.9, Nesterov) over ``parts`` — (parameters, learning-rate scale) pairs,
    e.g. a pretrained backbone at 0.1 and a new head at 1.0 — with weight decay on weights
    only, never on norms and biases (parameters of one dimension)."""
    groups = []
    for parameters, scale in parts:
        groups += [{"params": [p for p in parameters if p.ndim > 1], "lr": lr * scale,
                    "weight_decay": weight_decay},
                   {"params": [p for p in parameters if p.ndim <= 1], "lr": lr * scale,
                    "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)


def cosine_momentum(base: float, progress: float) -> float:
    """A momentum target's τ over a run: ``base`` rising to 1 on a cosine,
    τ = 1 − (1 − base)(cos(π·progress) + 1)/2 (BYOL, Grill et al. 2020, §3.2; DINO's teacher
    likewise).

    Args:
        base: τ at the start.
        progress: the share of the run done, 0 to 1.

    Returns:
        τ now."""
    return 1 - (1 - base) * (math.cos(math.pi * progress) + 1) / 2


@torch.no_grad()
def momentum_update(target: nn.Module, online: Sequence[nn.Module], momentum: float) -> None:
    """Move a momentum target towards the online network in place, ξ ← τ ξ + (1 − τ) θ
    (``lerp_``).

    Args:
        target: the target; its parameters, in order, are those of the ``online`` modules.
        online: the online modules.
        momentum: τ."""
    weights = [p for module in online for p in module.parameters()]
    for slow, fast in zip(target.parameters(), weights, strict=True):
        slow.lerp_(fast, 1 - momentum)


def per_sample(transform: Any, images: torch.Tensor) -> Inputs:
    """Apply a per-image transform to each image of a (B, 3, H, W) batch and stack the results
    (a transform returning a tuple of views gives a tuple of (B, ...) tensors)."""
    outputs = [transform(image) for image in images]
    if isinstance(outputs[0], tuple):
        return tuple(torch.stack(parts) for parts in zip(*outputs, strict=True))
    return torch.stack(outputs)
