"""``fit()``: the one training loop every method uses.

It owns what methods should not each get slightly wrong: the device, mixed precision (bf16
where the GPU supports it, else fp16 with a gradient scaler; bf16 on a CPU that computes it
natively, float32 on other CPUs), channels-last memory layout, optional ``torch.compile``, a
learning-rate schedule that is *stepped* (linear warm-up, then cosine decay, per step — the
study created a scheduler and never stepped it), ``tqdm.auto`` progress with the live loss and
an ETA, monitors run on val after every epoch (an online kNN classifier; the method's own
pretext metrics), a JSON history, an atomic checkpoint after every epoch, exact resumption
(weights, optimizer, schedule, epoch and random state), and a NaN/inf check that stops with a
clear message while the last good checkpoint stays on disk.

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
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from fgssl.config import Profile
from fgssl.config import profile as get_profile
from fgssl.evaluate.features import extract_features
from fgssl.evaluate.probe import knn_predict
from fgssl.methods.base import Inputs, Method
from fgssl.utils import (
    atomic_save,
    atomic_write_json,
    choose_device,
    cpu_has_native_bf16,
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


def warmup_cosine(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """Learning-rate factor at a step: linear warm-up to 1, then cosine decay to 0."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return factor


def _to_device(inputs: Inputs, device: torch.device) -> Inputs:
    def move(t: torch.Tensor) -> torch.Tensor:
        t = t.to(device, non_blocking=True)
        return t.contiguous(memory_format=torch.channels_last) if t.ndim == 4 else t
    return tuple(move(t) for t in inputs) if isinstance(inputs, tuple) else move(inputs)


def _precision(device: torch.device, amp: bool) -> tuple[Any, torch.amp.GradScaler]:
    """An autocast context for the device, and a scaler (enabled for fp16 only)."""
    if amp and device.type == "cpu" and cpu_has_native_bf16():
        return torch.autocast("cpu", dtype=torch.bfloat16), \
            torch.amp.GradScaler("cpu", enabled=False)
    if not amp or device.type != "cuda":
        return nullcontext(), torch.amp.GradScaler("cpu", enabled=False)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return (torch.autocast("cuda", dtype=dtype),
            torch.amp.GradScaler("cuda", enabled=dtype == torch.float16))


def fit(method: Method, data: Dataset, profile: Profile | str | None = None,
        out_dir: str | os.PathLike[str] | None = None, *, resume: bool = True,
        epochs: int | None = None, batch_size: int | None = None, lr: float | None = None,
        weight_decay: float = 5e-4, warmup_fraction: float = 0.1, seed: int = 0,
        monitors: Sequence[Monitor] = (), device: str | None = None, amp: bool = True,
        compile: bool = False, progress: bool | ProgressHook = True, trace_points: int = 10,
        monitor_every: int = 1, stop: Callable[[list[dict[str, Any]]], bool] | None = None
        ) -> list[dict[str, Any]]:
    """Train ``method`` on ``data`` (items ``(uint8 image, label)``); return the history
    (one record per epoch; the monitors' numbers in every ``monitor_every``-th record and the
    last). ``method.trace`` also gets ``trace_points`` records per epoch (the
    logs averaged over the steps since the previous one), for curves finer than an epoch.
    ``stop(history)``, asked after every epoch, ends training early when it says so.
    ``progress``: True draws a tqdm bar; a function is called instead as
    ``progress(steps_done, steps_in_all)`` after every step (a display in another process).

    Sizes come from the profile unless given. With ``out_dir``, a checkpoint and the history
    are written after every epoch, and ``resume`` continues from the last checkpoint there.
    ``lr`` is the rate for a batch of 256 (default: the method's), scaled with the batch.
    """
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    epochs = epochs or prof.epochs_for(method.name)
    batch_size = min(batch_size or prof.batch_size_for(method.name), len(data))
    steps_per_epoch = len(data) // batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"no training data: the dataset has {len(data)} images")
    device_ = choose_device(device)
    method.to(device_).to(memory_format=torch.channels_last)
    if compile:
        method.backbone.compile()
    scaled_lr = (lr or method.base_lr) * batch_size / 256
    optimizers = method.optimizers(scaled_lr, weight_decay)
    total = epochs * steps_per_epoch
    schedule = warmup_cosine(total, max(1, int(warmup_fraction * total)))
    schedulers = [torch.optim.lr_scheduler.LambdaLR(o, schedule) for o in optimizers]
    autocast, scaler = _precision(device_, amp)

    out = Path(out_dir) if out_dir is not None else None
    history: list[dict[str, Any]] = []
    trace: list[dict[str, Any]] = []
    trace_every = max(1, steps_per_epoch // trace_points)
    start_epoch = 0
    if out is not None and resume and (out / CHECKPOINT).is_file():
        state = load_checkpoint(out / CHECKPOINT, map_location=device_)
        _check_same_run(state, method, out)
        method.load_state_dict(state["model"])
        for holder, saved in zip(optimizers + schedulers, state["optimizers"] + state["schedulers"],
                                 strict=True):
            holder.load_state_dict(saved)
        scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng_torch"].cpu())
        random.setstate(_as_tuple(state["rng_python"]))
        start_epoch, history, trace = state["epoch"], state["history"], state.get("trace", [])
    else:
        seed_everything(seed)

    bar = tqdm(total=(epochs - start_epoch) * steps_per_epoch, desc=method.name,
               disable=progress is not True, unit="step")
    for epoch in range(start_epoch, epochs):
        method.train()
        shuffle = torch.Generator().manual_seed(seed * 100_003 + epoch)
        loader = DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=True,
                            generator=shuffle, num_workers=prof.workers)
        started, epoch_means, trace_means = time.perf_counter(), _Means(), _Means()
        for step, (images, labels) in enumerate(loader):
            method.progress = (epoch * steps_per_epoch + step) / total
            # uint8 images travel (4x smaller than floats); views are made where training runs
            images = images.to(device_, non_blocking=True)
            inputs = _to_device(method.views(images), device_)
            labels = labels.to(device_, non_blocking=True)
            steps = method.training_steps(inputs, labels)
            while True:
                with autocast:  # the method computes its next loss inside next()
                    taken = next(steps, None)
                if taken is None:
                    break
                index, loss, logs = taken
                if not torch.isfinite(loss):
                    bar.close()
                    kept = f"the checkpoint of epoch {epoch} in {out}" if out is not None \
                        and epoch > 0 else "no checkpoint (none was saved yet)"
                    raise FloatingPointError(
                        f"{method.name}: the loss became {loss.item()} at epoch {epoch + 1}, "
                        f"step {step + 1}; stopped, keeping {kept}: lower the learning rate "
                        "(--lr)")
                optimizers[index].zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizers[index])
                schedulers[index].step()  # a schedule advances with its optimizer's steps
                epoch_means.add(logs)
                trace_means.add(logs)
            scaler.update()
            last = {"loss": loss.item()}  # the iteration's last loss (a GAN: the generator's)
            epoch_means.add(last)
            trace_means.add(last)
            if (step + 1) % trace_every == 0:
                trace.append({"step": epoch * steps_per_epoch + step + 1,
                              "epoch": round(epoch + (step + 1) / steps_per_epoch, 4),
                              **trace_means.pop()})
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}",
                            lr=f"{schedulers[0].get_last_lr()[0]:.3g}")
            bar.update()
            if callable(progress):
                progress(epoch * steps_per_epoch + step + 1, total)
        record = {"epoch": epoch + 1, **epoch_means.pop(),
                  "lr": schedulers[0].get_last_lr()[0], "seconds": time.perf_counter() - started}
        if (epoch + 1) % monitor_every == 0 or epoch + 1 == epochs:
            for monitor in monitors:
                record.update(monitor(method, device_))
        bar.set_postfix(epoch=epoch + 1, loss=f"{record['loss']:.3f}", **{
            short: form.format(record[key]) for short, (key, form) in _SHOWN.items()
            if key in record})
        history.append(record)
        method.history, method.trace = history, trace
        if out is not None:
            _save(out, method, optimizers, schedulers, scaler, epoch + 1, seed)
        if stop is not None and stop(history):
            break
    bar.close()
    method.history, method.trace = history, trace
    return history


class _Means:
    """Means of logged numbers since the last :meth:`pop`; a number logged only by some
    steps (a GAN's discriminator step) is averaged over the steps that logged it."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.reset()

    def reset(self) -> None:
        self.sums, self.counts = {"loss": 0.0}, {"loss": 0}  # the loss first in every record

    def add(self, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
            self.counts[key] = self.counts.get(key, 0) + 1

    def pop(self) -> dict[str, float]:
        means = {key: total / self.counts[key] for key, total in self.sums.items()}
        self.reset()
        return means


def _save(out: Path, method: Method, optimizers: list, schedulers: list,
          scaler: torch.amp.GradScaler, epoch: int, seed: int) -> None:
    atomic_save({
        "method": method.name, "config": method.config(), "model": method.state_dict(),
        "optimizers": [o.state_dict() for o in optimizers],
        "schedulers": [s.state_dict() for s in schedulers], "scaler": scaler.state_dict(),
        "epoch": epoch, "history": method.history, "trace": method.trace, "seed": seed,
        "rng_torch": torch.get_rng_state(), "rng_python": random.getstate(),
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
