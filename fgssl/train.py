"""``fit()``: the one training loop every method uses.

It owns what methods should not each get slightly wrong: the device, the batches (the split
held on the device, :mod:`fgssl.data.batches`), the optimisation step with its stepped
schedule and mixed precision (:mod:`fgssl.optimisation`), channels-last memory layout,
optional ``torch.compile``, ``tqdm.auto`` progress with the live loss and an ETA, monitors run
on val after every epoch (an online kNN classifier; the method's own pretext metrics), a JSON
history, an atomic checkpoint after every epoch, exact resumption (weights, optimizer,
schedule, epoch and random state), a NaN/inf check that stops with a clear message while the
last good checkpoint stays on disk, a suggested batch size when the GPU runs out of memory,
and DistributedDataParallel under ``torchrun`` (:mod:`fgssl.distributed`). The host waits for
the device only a few times per epoch (logging), never every step.

Example::

    >>> method = SimCLR()                                        # doctest: +SKIP
    >>> history = fit(method, catalog.dataset("synthbirds", "unlabelled"), "cpu", "runs/x")
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from fgssl import distributed
from fgssl.config import Profile
from fgssl.config import profile as get_profile
from fgssl.data.batches import training_batches
from fgssl.distributed import Launch
from fgssl.evaluate.features import extract_features
from fgssl.evaluate.probe import knn_predict
from fgssl.methods.base import Inputs, Log, Method, Step
from fgssl.optimisation import Optimisation, optimisation, to_device
from fgssl.utils import (
    atomic_save,
    atomic_write_json,
    choose_device,
    load_checkpoint,
    seed_everything,
)

CHECKPOINT, HISTORY = "checkpoint.pt", "history.json"
_SHOWN = {"knn": ("knn_top1", "{:.1%}"), "pretext": ("val_pretext_accuracy", "{:.1%}"),
          "psnr": ("val_psnr", "{:.2f} dB")}  # monitors in the progress bar


Monitor = Callable[[Method, torch.device], dict[str, Any]]
ProgressHook = Callable[[int, int], None]  # (steps done, steps in all)
"""Called after every epoch with the method and its device; returns numbers for the history."""


class KNNMonitor:
    """``knn_top1``: weighted-kNN top-1 of the backbone's features, ``bank`` (labelled) voting
    for ``queries`` (val). Cheap enough to run every epoch; it shows learning while SSL trains."""

    def __init__(self, bank: Dataset, queries: Dataset, k: int = 20) -> None:
        self.bank, self.queries, self.k = bank, queries, k

    def __call__(self, method: Method, device: torch.device) -> dict[str, Any]:
        bank_x, bank_y = extract_features(method.backbone, self.bank, device=device)
        query_x, query_y = extract_features(method.backbone, self.queries, device=device)
        return {"knn_top1": float((knn_predict(bank_x, bank_y, query_x, self.k) == query_y).mean())}


class PretextMonitor:
    """``val_<name>``: the method's :meth:`~fgssl.methods.base.Method.pretext_metrics` on the
    first ``limit`` images of ``queries`` (val), so that a pretext task that is solved on
    training images but not on new ones (memorised) shows in the history."""

    def __init__(self, queries: Dataset, limit: int = 1024) -> None:
        count = min(limit, len(queries))
        self.images = torch.stack([queries[i][0] for i in range(count)])  # (N, 3, H, W) uint8

    def __call__(self, method: Method, device: torch.device) -> dict[str, Any]:
        metrics = method.pretext_metrics(self.images.to(device))
        return {f"val_{name}": value for name, value in metrics.items()}


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


def _out_of_memory(method: Method, batch_size: int, device: torch.device) -> MemoryError:
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0
    total = torch.cuda.get_device_properties(device).total_memory / 2**30 \
        if device.type == "cuda" else 0.0
    return MemoryError(
        f"{method.name}: the GPU ran out of memory with batches of {batch_size} images "
        f"(peak {peak:.1f} GiB of {total:.1f} GiB): try --batch {max(1, batch_size // 2)}, or "
        "a smaller --profile")


def fit(method: Method, data: Dataset, profile: Profile | str | None = None,
        out_dir: str | os.PathLike[str] | None = None, *, resume: bool = True,
        epochs: int | None = None, batch_size: int | None = None, lr: float | None = None,
        weight_decay: float = 5e-4, warmup_fraction: float = 0.1, seed: int = 0,
        monitors: Sequence[Monitor] = (), device: str | None = None, amp: bool = True,
        compile: bool = False, progress: bool | ProgressHook = True, trace_points: int = 10,
        monitor_every: int = 1, stop: Callable[[list[dict[str, Any]]], bool] | None = None,
        data_path: str = "auto", sync_batchnorm: bool = False) -> list[dict[str, Any]]:
    """Train ``method`` on ``data`` (items ``(uint8 image, label)``); return the history
    (one record per epoch; the monitors' numbers in every ``monitor_every``-th record and the
    last). ``method.trace`` also gets ``trace_points`` records per epoch (the
    logs averaged over the steps since the previous one), for curves finer than an epoch;
    the host waits for the device only there (the losses are checked for NaN there too).
    ``stop(history)``, asked after every epoch, ends training early when it says so.
    ``progress``: True draws a tqdm bar; a function is called instead as
    ``progress(steps_done, steps_in_all)`` after every step (a display in another process).

    Sizes come from the profile unless given. With ``out_dir``, a checkpoint and the history
    are written after every epoch, and ``resume`` continues from the last checkpoint there.
    ``lr`` is the rate for a batch of 256 (default: the method's), scaled with the batch.
    ``data_path``: ``"gpu"`` (the split held on the device), ``"cpu-loader"`` or ``"auto"``
    (:func:`fgssl.data.batches.training_batches`; the same batches either way). Under
    ``torchrun`` (:mod:`fgssl.distributed`) the batch is split over the processes,
    optionally with ``sync_batchnorm``.
    """
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    launch = distributed.start(device)
    rank, world = (launch.rank, launch.world) if launch is not None else (0, 1)
    main = rank == 0
    epochs = epochs or prof.epochs_for(method.name)
    batch_size = min(batch_size or prof.batch_size_for(method.name), len(data))
    if batch_size % world:
        raise ValueError(f"a batch of {batch_size} does not split over {world} processes: "
                         f"choose a batch size divisible by {world}")
    device_ = launch.device if launch is not None else choose_device(device)
    if device_.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: pick the fastest kernels
    batches = training_batches(data, batch_size // world, device_, data_path, rank, world,
                               prof.workers)
    steps_per_epoch = len(batches)
    if launch is not None:
        _check_distributable(method, sync_batchnorm, device_)
    method.to(device_).to(memory_format=torch.channels_last)
    if compile:
        method.backbone.compile()
    total = epochs * steps_per_epoch
    opt = optimisation(method, device_, (lr or method.base_lr) * batch_size / 256, total,
                       weight_decay, warmup_fraction, amp)

    out = Path(out_dir) if out_dir is not None else None
    history: list[dict[str, Any]] = []
    trace: list[dict[str, Any]] = []
    trace_every = max(1, steps_per_epoch // trace_points)
    start_epoch = 0
    if out is not None and resume and (out / CHECKPOINT).is_file():
        state = load_checkpoint(out / CHECKPOINT, map_location=device_)
        _check_same_run(state, method, out)
        method.load_state_dict(state["model"])
        opt.load_state_dict(state)
        _restore_random_state(state, rank, world, device_)
        start_epoch, history, trace = state["epoch"], state["history"], state.get("trace", [])
    else:
        seed_everything(seed + 7919 * rank)  # each rank draws its own augmentations

    model = method if launch is None else nn.parallel.DistributedDataParallel(
        method, device_ids=[device_.index] if device_.type == "cuda" else None)
    bar = tqdm(total=(epochs - start_epoch) * steps_per_epoch, desc=method.name,
               disable=progress is not True or not main, unit="step")
    try:
        for epoch in range(start_epoch, epochs):
            method.train()
            started, epoch_means, trace_means = time.perf_counter(), _Means(), _Means()
            for step, (images, labels) in enumerate(batches.epoch(seed * 100_003 + epoch)):
                method.progress = (epoch * steps_per_epoch + step) / total
                inputs = to_device(method.views(images), device_)  # views made on the device
                loss, logs = opt.step(method.training_steps(inputs, labels) if model is method
                                      else _ddp_step(model, inputs, labels))
                # the iteration's last loss (a GAN: the generator's)
                for means in (epoch_means, trace_means):
                    for step_logs in [*logs, {"loss": loss}]:
                        means.add(step_logs)
                if (step + 1) % trace_every == 0:
                    point = trace_means.pop()  # the host waits for the device here only
                    _check_finite(point, method, epoch, step, trace_every, out, launch, bar)
                    trace.append({"step": epoch * steps_per_epoch + step + 1,
                                  "epoch": round(epoch + (step + 1) / steps_per_epoch, 4),
                                  **point})
                    bar.set_postfix(epoch=epoch + 1, loss=f"{point['loss']:.3f}",
                                    lr=f"{opt.lr:.3g}")
                bar.update()
                if callable(progress) and main:
                    progress(epoch * steps_per_epoch + step + 1, total)
            record = {"epoch": epoch + 1, **epoch_means.pop(),
                      "lr": opt.lr,
                      "seconds": time.perf_counter() - started}
            _check_finite(record, method, epoch, steps_per_epoch - 1, steps_per_epoch, out,
                          launch, bar)
            if main and ((epoch + 1) % monitor_every == 0 or epoch + 1 == epochs):
                for monitor in monitors:
                    record.update(monitor(method, device_))
            bar.set_postfix(epoch=epoch + 1, loss=f"{record['loss']:.3f}", **{
                short: form.format(record[key]) for short, (key, form) in _SHOWN.items()
                if key in record})
            history.append(record)
            method.history, method.trace = history, trace
            randomness = distributed.gather(_random_state(device_), launch)
            if out is not None and main:
                _save(out, method, opt, epoch + 1, seed, randomness)
            distributed.barrier(launch)
            if stop is not None and distributed.from_main(main and stop(history), launch):
                break
    except torch.OutOfMemoryError as error:
        raise _out_of_memory(method, batch_size // world, device_) from error
    finally:
        bar.close()
    method.history, method.trace = history, trace
    return history


def _check_finite(logs: dict[str, float], method: Method, epoch: int, step: int, steps: int,
                  out: Path | None, launch: Launch | None, bar: Any) -> None:
    """Stop with a clear message when the mean loss of the last ``steps`` steps (up to
    ``step``) is NaN or infinite on any rank; the last checkpoint stays."""
    if not distributed.any_rank(not math.isfinite(logs["loss"]), launch):
        return
    bar.close()
    kept = f"the checkpoint of epoch {epoch} in {out}" if out is not None and epoch > 0 \
        else "no checkpoint (none was saved yet)"
    raise FloatingPointError(
        f"{method.name}: the loss became {logs['loss']} at epoch {epoch + 1}, within steps "
        f"{step + 2 - steps}-{step + 1}; stopped, keeping {kept}: lower the learning rate (--lr)")


def _random_state(device: torch.device) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _restore_random_state(checkpoint: dict[str, Any], rank: int, world: int,
                          device: torch.device) -> None:
    """This rank's random state from a checkpoint (rank 0's when it was saved by fewer
    processes: training continues correctly, just not draw for draw)."""
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


def _save(out: Path, method: Method, opt: Optimisation, epoch: int, seed: int,
          randomness: list[dict[str, Any]]) -> None:
    atomic_save({
        "method": method.name, "config": method.config(), "model": method.state_dict(),
        **opt.state_dict(), "epoch": epoch, "history": method.history, "trace": method.trace,
        "seed": seed, "random": randomness,  # each rank's generators
    }, out / CHECKPOINT)
    atomic_write_json({"method": method.name, "config": method.config(),
                       "history": method.history, "trace": method.trace}, out / HISTORY)


def _check_same_run(state: dict[str, Any], method: Method, out: Path) -> None:
    if state["method"] != method.name or state["config"] != json.loads(json.dumps(method.config())):
        raise ValueError(
            f"{out / CHECKPOINT} belongs to {state['method']} {state['config']}, not "
            f"{method.name} {method.config()}: use another --out, or delete it to start over"
        )


def _as_tuple(value: Any) -> Any:
    """random.getstate() comes back from a checkpoint with lists where tuples were."""
    return tuple(_as_tuple(v) for v in value) if isinstance(value, list | tuple) else value
