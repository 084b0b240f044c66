"""``fit()``: the one training loop every method uses.

It owns what methods should not each get slightly wrong: the device, the batches (the split
held on the device, :mod:`fgssl.data.batches`), the optimisation step with its stepped
schedule and mixed precision (:mod:`fgssl.optimisation`), the method's hook after every
optimizer step, channels-last memory layout, optional ``torch.compile``, ``tqdm.auto``
progress with the live loss and an ETA, the monitors it is handed (run on val after every
epoch), a JSON history, an atomic checkpoint after every epoch, exact resumption (weights —
a momentum target's too —, optimizer, schedule, epoch and random state), a NaN/inf check that
stops with a clear message while the last good checkpoint stays on disk, a suggested batch
size when the GPU runs out of memory, and DistributedDataParallel under ``torchrun``
(:mod:`fgssl.torchrun`). The host waits for the device only a few times per epoch
(logging), never every step. It knows the Method interface, and nothing about evaluation.

Example::

    >>> method = SimCLR()                                        # doctest: +SKIP
    >>> history = fit(method, catalog.dataset("synthbirds", "unlabelled"), "cpu", "runs/x",
    ...               hyper=Hyperparameters(epochs=2))
"""

# Over 300 lines: the one loop with its checkpoints and exact resume, in the order they run.

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from fgssl import torchrun
from fgssl.config import Profile
from fgssl.config import profile as get_profile
from fgssl.data.batches import DATA_PATHS, DeviceBatches, LoaderBatches, training_batches
from fgssl.files import atomic_write_json, exclusive
from fgssl.methods.base import Inputs, Log, Method, Step
from fgssl.optimisation import Optimisation, optimisation, to_device
from fgssl.utils import (
    CHECKPOINT,
    HISTORY,
    LOCK,
    RUN_KEYS,
    atomic_save,
    choose_device,
    load_checkpoint,
    seed_everything,
)

_SHOWN = {"knn": ("knn_top1", "{:.1%}"), "pretext": ("val_pretext_accuracy", "{:.1%}"),
          "psnr": ("val_psnr", "{:.2f} dB")}  # monitors in the progress bar

Monitor = Callable[[Method, torch.device], dict[str, Any]]
"""Called after an epoch with the method and its device; returns numbers for the history."""
ProgressHook = Callable[[int, int], None]  # (steps done, steps in all)


@dataclass(frozen=True)
class Hyperparameters:
    """How long and how fast: ``epochs`` and ``batch_size`` default to the method's schedule
    for the profile, ``lr`` (the rate for a batch of 256, scaled linearly with the batch) to
    the method's ``base_lr``; warm-up is a fraction of all steps; ``seed`` seeds the run."""

    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    weight_decay: float = 5e-4
    warmup_fraction: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be 0 or more, got {self.weight_decay}")
        if not 0 <= self.warmup_fraction < 1:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction}")
        if not (isinstance(self.seed, int) and self.seed >= 0):
            raise ValueError(f"seed must be a whole number, 0 or more, e.g. 0; got {self.seed}")


@dataclass(frozen=True)
class Hardware:
    """Where and how it computes: ``device`` (default: the best there is), mixed precision
    (``amp``), ``torch.compile`` of the backbone, the data path (``"gpu"``: the split held on
    the device; ``"cpu-loader"``; ``"auto"``) and, under torchrun, SyncBatchNorm."""

    device: str | None = None
    amp: bool = True
    compile_backbone: bool = False
    data_path: str = "auto"
    sync_batchnorm: bool = False

    def __post_init__(self) -> None:
        if self.data_path not in DATA_PATHS:
            raise ValueError(f"data_path must be one of {', '.join(DATA_PATHS)}, got "
                             f"{self.data_path!r}")


@dataclass(frozen=True)
class Watch:
    """What follows the run: ``monitors`` (every ``monitor_every``-th epoch and the last),
    ``trace_points`` trace records per epoch, a tqdm bar (``progress_bar``) or ``on_step``
    (called as ``on_step(steps_done, steps_in_all)``, e.g. a display in another process),
    and ``stop(history)``, asked after every epoch, which ends training early."""

    monitors: Sequence[Monitor] = ()
    monitor_every: int = 1
    trace_points: int = 10
    progress_bar: bool = True
    on_step: ProgressHook | None = None
    stop: Callable[[list[dict[str, Any]]], bool] | None = None

    def __post_init__(self) -> None:
        for name in ("monitor_every", "trace_points"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


@dataclass
class _Run:
    """One training run set up: the method (and its DDP wrapper), where it computes, its
    batches and optimisation, and how long it lasts."""

    method: Method
    model: nn.Module
    launch: torchrun.Launch | None
    device: torch.device
    batches: DeviceBatches | LoaderBatches
    opt: Optimisation
    epochs: int
    batch_size: int
    seed: int
    trace_every: int
    provenance: dict[str, Any] | None = None  # what the data was: kept with each checkpoint

    @property
    def main(self) -> bool:
        return self.launch is None or self.launch.rank == 0

    @property
    def steps_per_epoch(self) -> int:
        return len(self.batches)

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    def steps(self, inputs: Inputs, labels: torch.Tensor) -> Iterator[Step]:
        """The method's steps for one batch (through DDP's forward under torchrun)."""
        if self.model is self.method:
            return self.method.training_steps(inputs, labels)
        return _ddp_step(self.model, inputs, labels)


def fit(method: Method, data: Dataset, profile: Profile | str | None = None,
        out_dir: str | os.PathLike[str] | None = None, *, resume: bool = True,
        hyper: Hyperparameters = Hyperparameters(), hardware: Hardware = Hardware(),
        watch: Watch = Watch(), provenance: dict[str, Any] | None = None
        ) -> list[dict[str, Any]]:
    """Train ``method`` on ``data`` (items ``(uint8 image, label)``); return the history, one
    record per epoch (the monitors' numbers in the epochs they ran), also kept as
    ``method.history``; ``method.trace`` gets ``watch.trace_points`` records per epoch (the
    logs averaged since the previous one), for curves finer than an epoch. With ``out_dir``,
    a checkpoint and the history are written after every epoch, and ``resume`` continues
    from the checkpoint there; ``provenance`` (JSON-able: what the data was) is kept in each
    checkpoint and history file, for the caller to check. Under ``torchrun`` the batch is
    split over the processes."""
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    run = _start(method, data, prof, hyper, hardware, watch)
    run.provenance = provenance
    out = Path(out_dir) if out_dir is not None else None
    with exclusive(out / LOCK, f"training into {out}") if out is not None and run.main \
            else contextlib.nullcontext():  # one writer per checkpoint
        first_epoch = _resume(run, out) if out is not None and resume and \
            (out / CHECKPOINT).is_file() else _begin(run)
        bar = tqdm(total=(run.epochs - first_epoch) * run.steps_per_epoch, desc=method.name,
                   disable=not watch.progress_bar or not run.main, unit="step")
        try:
            for epoch in range(first_epoch, run.epochs):
                record = _train_epoch(run, epoch, watch, out, bar)
                _end_epoch(run, record, watch, out, bar)
                if watch.stop is not None and torchrun.from_main(
                        run.main and watch.stop(method.history), run.launch):
                    break
        except torch.OutOfMemoryError as error:
            raise _out_of_memory(run) from error
        finally:
            bar.close()
    return method.history


def _start(method: Method, data: Dataset, prof: Profile, hyper: Hyperparameters,
           hardware: Hardware, watch: Watch) -> _Run:
    """Device, processes, batches, the method on the device, its optimisation."""
    launch = torchrun.start(hardware.device)
    world = launch.world if launch is not None else 1
    epochs = hyper.epochs or type(method).epochs_for(prof)
    batch_size = min(hyper.batch_size or type(method).batch_size_for(prof), len(data))
    if batch_size % world:
        raise ValueError(f"a batch of {batch_size} does not split over {world} processes: "
                         f"choose a batch size divisible by {world}")
    device = launch.device if launch is not None else choose_device(hardware.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: pick the fastest kernels
    batches = training_batches(data, batch_size // world, device, hardware.data_path,
                               launch.rank if launch is not None else 0, world, prof.workers)
    if launch is not None:
        _check_distributable(method, hardware.sync_batchnorm, device)
    method.to(device).to(memory_format=torch.channels_last)
    if hardware.compile_backbone:
        method.backbone.compile()
    opt = optimisation(method, device, (hyper.lr or method.base_lr) * batch_size / 256,
                       epochs * len(batches), hyper.weight_decay, hyper.warmup_fraction,
                       hardware.amp)
    model = method if launch is None else nn.parallel.DistributedDataParallel(
        method, device_ids=[device.index] if device.type == "cuda" else None)
    return _Run(method, model, launch, device, batches, opt, epochs, batch_size, hyper.seed,
                trace_every=max(1, len(batches) // watch.trace_points))


def _begin(run: _Run) -> int:
    """A fresh run: empty history, each rank seeded for its own augmentations; epoch 0."""
    rank = run.launch.rank if run.launch is not None else 0
    seed_everything(run.seed + 7919 * rank)
    run.method.history, run.method.trace = [], []
    return 0


def _resume(run: _Run, out: Path) -> int:
    """Everything from the checkpoint in ``out``; the epoch to continue from."""
    state = load_checkpoint(out / CHECKPOINT, map_location=run.device, keys=RUN_KEYS)
    _check_same_run(state, run.method, out)
    run.method.load_state_dict(state["model"])
    run.opt.load_state_dict(state)
    _restore_random_state(state, run.launch, run.device)
    run.method.history, run.method.trace = state["history"], state.get("trace", [])
    return state["epoch"]


def _train_epoch(run: _Run, epoch: int, watch: Watch, out: Path | None, bar: Any
                 ) -> dict[str, Any]:
    """One pass over the batches; the epoch's record (mean logs, rate, seconds)."""
    method, per_epoch = run.method, run.steps_per_epoch
    method.train()
    started, epoch_means, trace_means = time.perf_counter(), _Means(), _Means()
    for step, (images, labels) in enumerate(run.batches.epoch(run.seed * 100_003 + epoch)):
        done = epoch * per_epoch + step  # steps before this one
        method.progress = done / run.total_steps
        inputs = to_device(method.views(images), run.device)  # views made on the device
        loss, logs = run.opt.step(run.steps(inputs, labels), method)
        for means in (epoch_means, trace_means):  # the last loss (a GAN: the generator's)
            for step_logs in [*logs, {"loss": loss}]:
                means.add(step_logs)
        if (step + 1) % run.trace_every == 0:
            point = trace_means.pop()  # the host waits for the device here only
            _check_finite(point, run, epoch, step, run.trace_every, out, bar)
            method.trace.append({"step": done + 1, "epoch": round(epoch + (step + 1) / per_epoch,
                                                                  4), **point})
            bar.set_postfix(epoch=epoch + 1, loss=f"{point['loss']:.3f}", lr=f"{run.opt.lr:.3g}")
        bar.update()
        if watch.on_step is not None and run.main:
            watch.on_step(done + 1, run.total_steps)
    record = {"epoch": epoch + 1, **epoch_means.pop(), "lr": run.opt.lr,
              "seconds": time.perf_counter() - started}
    _check_finite(record, run, epoch, per_epoch - 1, per_epoch, out, bar)
    return record


def _end_epoch(run: _Run, record: dict[str, Any], watch: Watch, out: Path | None, bar: Any
               ) -> None:
    """The monitors (when due), the record in the history, the checkpoint."""
    epoch = record["epoch"]
    if run.main and (epoch % watch.monitor_every == 0 or epoch == run.epochs):
        for monitor in watch.monitors:
            record.update(monitor(run.method, run.device))
    bar.set_postfix(epoch=epoch, loss=f"{record['loss']:.3f}", **{
        short: form.format(record[key]) for short, (key, form) in _SHOWN.items()
        if key in record})
    run.method.history.append(record)
    randomness = torchrun.gather(_random_state(run.device), run.launch)
    if out is not None and run.main:
        _save(out, run, epoch, randomness)
    torchrun.barrier(run.launch)


def _ddp_step(model: nn.Module, inputs: Inputs, labels: torch.Tensor) -> Iterator[Step]:
    loss, logs = model(inputs, labels)  # DDP's forward: backward averages gradients over ranks
    yield 0, loss, logs


def _check_distributable(method: Method, sync_batchnorm: bool, device: torch.device) -> None:
    """Under torchrun: refuse a method DDP cannot train; convert its BatchNorms when asked."""
    if type(method).training_steps is not Method.training_steps:
        raise ValueError(f"{method.name} steps several optimizers per batch, which fgssl does "
                         "not run under torchrun: train it in one process")
    if sync_batchnorm and device.type != "cuda":
        raise ValueError("--sync-bn needs GPUs (PyTorch's SyncBatchNorm runs on CUDA only): "
                         "leave it out on CPUs")
    if sync_batchnorm:
        nn.SyncBatchNorm.convert_sync_batchnorm(method)  # in place, before the optimizers


def _out_of_memory(run: _Run) -> MemoryError:
    device, per_rank = run.device, run.batch_size // (run.launch.world if run.launch else 1)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0
    total = torch.cuda.get_device_properties(device).total_memory / 2**30 \
        if device.type == "cuda" else 0.0
    return MemoryError(
        f"{run.method.name}: the GPU ran out of memory with batches of {per_rank} images "
        f"(peak {peak:.1f} GiB of {total:.1f} GiB): try --batch {max(1, per_rank // 2)}, or "
        "a smaller --profile")


def _check_finite(logs: dict[str, float], run: _Run, epoch: int, step: int, steps: int,
                  out: Path | None, bar: Any) -> None:
    """Stop with a clear message when the mean loss of the last ``steps`` steps (up to
    ``step``) is NaN or infinite on any rank; the last checkpoint stays."""
    if not torchrun.any_rank(not math.isfinite(logs["loss"]), run.launch):
        return
    bar.close()
    kept = f"the checkpoint of epoch {epoch} in {out}" if out is not None and epoch > 0 \
        else "no checkpoint (none was saved yet)"
    raise FloatingPointError(
        f"{run.method.name}: the loss became {logs['loss']} at epoch {epoch + 1}, within steps "
        f"{step + 2 - steps}-{step + 1}; stopped, keeping {kept}: lower the learning rate (--lr)")


def _random_state(device: torch.device) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _restore_random_state(checkpoint: dict[str, Any], launch: torchrun.Launch | None,
                          device: torch.device) -> None:
    """This rank's random state from a checkpoint (rank 0's when it was saved by fewer
    processes: training continues correctly, just not draw for draw)."""
    rank, world = (launch.rank, launch.world) if launch is not None else (0, 1)
    saved = checkpoint.get("random") or [  # checkpoints of fgssl 0.1 kept one state
        {"torch": checkpoint["rng_torch"], "python": checkpoint["rng_python"]}]
    state = saved[rank] if len(saved) == world else saved[0]
    torch.set_rng_state(state["torch"].cpu())
    random.setstate(_as_tuple(state["python"]))
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


class _Means:
    """Means of logged numbers since the last :meth:`pop`; a number logged only by some
    steps (a GAN's discriminator step) is averaged over the steps that logged it."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sums: dict[str, Log] = {"loss": 0.0}  # the loss first in every record
        self.counts = {"loss": 0}

    def add(self, logs: dict[str, Log]) -> None:
        for key, value in logs.items():  # tensors stay on the device until pop()
            self.sums[key] = self.sums.get(key, 0.0) + value
            self.counts[key] = self.counts.get(key, 0) + 1

    def pop(self) -> dict[str, float]:
        means = {key: float(total) / self.counts[key] for key, total in self.sums.items()}
        self.reset()
        return means


def _save(out: Path, run: _Run, epoch: int, randomness: list[dict[str, Any]]) -> None:
    method = run.method
    atomic_save({
        "method": method.name, "config": method.config(), "model": method.state_dict(),
        **run.opt.state_dict(), "epoch": epoch, "history": method.history,
        "trace": method.trace, "seed": run.seed, "random": randomness,  # each rank's generators
        "provenance": run.provenance or {},
    }, out / CHECKPOINT)
    atomic_write_json({"method": method.name, "config": method.config(),
                       "provenance": run.provenance or {}, "history": method.history,
                       "trace": method.trace}, out / HISTORY)


def _check_same_run(state: dict[str, Any], method: Method, out: Path) -> None:
    """Refuse a checkpoint of another method or settings; settings compare as JSON writes
    them (a checkpoint keeps a tuple that a history file writes as a list)."""
    def as_json(config: dict[str, Any]) -> Any:
        return json.loads(json.dumps(config))

    if state["method"] != method.name or as_json(state["config"]) != as_json(method.config()):
        raise ValueError(
            f"{out / CHECKPOINT} belongs to {state['method']} {state['config']}, not "
            f"{method.name} {method.config()}: use another --out, or delete it to start over"
        )


def _as_tuple(value: Any) -> Any:
    """random.getstate() comes back from a checkpoint with lists where tuples were."""
    return tuple(_as_tuple(v) for v in value) if isinstance(value, list | tuple) else value
