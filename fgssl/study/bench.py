"""``fgssl bench``: is SimCLR training limited by its data or by its model?

Three speeds in images per second, each measured after warm-up steps and with the device
synchronised at both ends of the timed stretch:

- **data**: batches of two SimCLR views, ready on the device, and nothing else;
- **model**: the SimCLR training step (forward, NT-Xent, backward, optimizer, as
  :func:`fgssl.train.fit` takes it: AMP, channels-last) on views already there;
- **end to end**: both, as training runs.

for two data paths:

- ``cpu-loader``: the usual pipeline (lightly, the UvA tutorial, sthalles' SimCLR): a
  ``DataLoader`` whose ``workers`` processes augment image by image with torchvision
  (:class:`~fgssl.transforms.SimCLRViews`), collate, pin and copy the views over;
- ``gpu``: fgssl's: the uint8 images held on the device (:mod:`fgssl.data.batches`), the views
  made for the whole batch there (:class:`~fgssl.gpu_augment.BatchSimCLRViews`).

``ratio`` = end to end / model: 1.0 means the data pipeline costs nothing. Peak memory is the
GPU's (``torch.cuda.max_memory_allocated``) or, on a CPU, the process's peak resident size.
The images are SynthBirds rendered at the chosen size (a pool of a few batches, cycled).

Example::

    >>> result = bench("ci", steps=2, warmup=1)              # doctest: +SKIP
    >>> result["paths"]["gpu"]["ratio"]                      # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import resource
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, RandomSampler

from fgssl.config import Profile
from fgssl.config import profile as get_profile
from fgssl.data.batches import DeviceBatches
from fgssl.data.cache import CachedImages
from fgssl.data.synthbirds import SynthBirds
from fgssl.methods.simclr import SimCLR
from fgssl.optimisation import optimisation, to_device
from fgssl.transforms import SimCLRViews
from fgssl.utils import choose_device

PATHS = ("cpu-loader", "gpu")
POOL_BATCHES = 4  # the rendered pool holds this many batches; epochs cycle through it

Views = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class BenchSettings:
    """What is measured: the model, the image size, the batch, the loader's workers."""

    backbone: str
    size: int
    batch: int
    workers: int
    steps: int
    warmup: int
    compile: bool

    @classmethod
    def of(cls, prof: Profile, backbone: str | None = None, size: int | None = None,
           batch: int | None = None, workers: int | None = None, steps: int = 20,
           warmup: int = 3, compile: bool = False) -> BenchSettings:
        """The profile's SimCLR settings, with any of them overridden."""
        if steps < 1 or warmup < 0:
            raise ValueError(f"need steps >= 1 and warmup >= 0, got {steps} and {warmup}")
        return cls(backbone or prof.backbone, size or prof.image_size,
                   batch or SimCLR.batch_size_for(prof),
                   prof.workers if workers is None else workers, steps, warmup, compile)


def _pool(settings: BenchSettings) -> CachedImages:
    rendered = SynthBirds(seed=0).render("unlabelled", range(POOL_BATCHES * settings.batch),
                                         settings.size)
    return CachedImages(rendered.images, rendered.labels)


def _view_batches(path: str, pool: CachedImages, method: SimCLR, settings: BenchSettings,
                  device: torch.device) -> Iterator[Views]:
    """Batches of two views on the device, made the ``path`` way (as many as the bench
    takes: the DataLoader draws its images at random, one loader for the whole run)."""
    if path == "gpu":
        batches = DeviceBatches(pool, settings.batch, device)
        epochs = itertools.chain.from_iterable(batches.epoch(seed) for seed in itertools.count())
        return (method.views(images) for images, _ in epochs)
    per_image = CachedImages(pool.images, pool.labels, SimCLRViews(settings.size))
    draws = settings.batch * (2 * (settings.warmup + settings.steps) + 1)
    loader = DataLoader(per_image, settings.batch, num_workers=settings.workers,
                        sampler=RandomSampler(per_image, replacement=True, num_samples=draws),
                        pin_memory=device.type == "cuda", drop_last=True)
    return ((first.to(device, non_blocking=True), second.to(device, non_blocking=True))
            for (first, second), _ in loader)


def _timed(run: Callable[[], None], settings: BenchSettings, device: torch.device) -> float:
    """Images/s of ``run`` (one batch each call), after the warm-up calls."""
    for _ in range(settings.warmup):
        run()
    _synchronise(device)
    started = time.perf_counter()
    for _ in range(settings.steps):
        run()
    _synchronise(device)
    return settings.steps * settings.batch / (time.perf_counter() - started)


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_memory(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak if sys.platform == "darwin" else peak * 1024


def bench_path(path: str, settings: BenchSettings, device: torch.device,
               pool: CachedImages | None = None) -> dict[str, Any]:
    """Data, model and end-to-end images/s of one data path (see the module's docstring)."""
    if path not in PATHS:
        raise ValueError(f"path must be one of {', '.join(PATHS)}, got {path!r}")
    pool = pool if pool is not None else _pool(settings)
    torch.manual_seed(0)
    method = SimCLR(settings.backbone, settings.size).to(device)
    method.to(memory_format=torch.channels_last).train()
    if settings.compile:
        method.backbone.compile()
    total = settings.warmup * 2 + settings.steps * 2 + 1
    opt = optimisation(method, device, lr=method.base_lr * settings.batch / 256,
                       total_steps=total)
    labels = torch.zeros(settings.batch, dtype=torch.long, device=device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    views = _view_batches(path, pool, method, settings, device)
    ready = to_device(next(views), device)

    def model_step(inputs: Views = ready) -> None:
        opt.step(method.training_steps(inputs, labels), method)

    data_ips = _timed(lambda: next(views), settings, device)
    model_ips = _timed(model_step, settings, device)
    end_to_end_ips = _timed(lambda: model_step(to_device(next(views), device)), settings,
                            device)
    return {"path": path, "data_ips": round(data_ips, 1), "model_ips": round(model_ips, 1),
            "end_to_end_ips": round(end_to_end_ips, 1),
            "ratio": round(end_to_end_ips / model_ips, 3),
            "peak_mem_bytes": _peak_memory(device)}


def bench(profile: Profile | str | None = None, paths: tuple[str, ...] = PATHS,
          device: str | None = None, **options: Any) -> dict[str, Any]:
    """Where the time of a SimCLR step goes, on both data paths measured in the same run: the
    usual DataLoader augmenting image by image (``"cpu-loader"``) and fgssl's (``"gpu"``: the
    split held where training runs, views made for the whole batch at once).

    Args:
        profile: the profile whose SimCLR settings are measured (name or object; default: the
            current one).
        paths: which paths, in order.
        device: where it runs (default: the best there is).
        **options: settings overridden (:meth:`BenchSettings.of`: backbone, size, batch,
            workers, steps, warmup, compile).

    Returns:
        The last path's images/s (data alone, step alone, end to end, their ratio) and peak
        memory at the top level, each path's under ``paths``, and ``speedup``, the GPU path's
        end-to-end speed over the DataLoader's when both ran."""
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    settings = BenchSettings.of(prof, **options)
    where = choose_device(device)
    pool = _pool(settings)
    measured = {path: bench_path(path, settings, where, pool) for path in paths}
    result: dict[str, Any] = {
        **measured[paths[-1]], "profile": prof.name, "device": str(where),
        "device_name": torch.cuda.get_device_name(where) if where.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(), **vars(settings),
        "peak_mem_kind": "cuda_allocated" if where.type == "cuda" else "process_peak_rss",
        "paths": measured}
    if set(PATHS) <= set(measured):
        result["speedup"] = round(measured["gpu"]["end_to_end_ips"]
                                  / measured["cpu-loader"]["end_to_end_ips"], 2)
    return result
