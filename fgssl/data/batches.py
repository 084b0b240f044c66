"""Training batches, two ways: the GPU data path and the DataLoader path.

:func:`training_batches` gives an epoch's shuffled ``(uint8 images, labels)`` batches on the
training device, either way; :func:`fgssl.train.fit` uses it and ``fgssl bench`` compares.

The GPU data path: a split's uint8 cache held in device memory and batched there.

A DataLoader collates every batch on the CPU, image by image, and copies it over; on a
2-vCPU Colab machine that alone can keep a GPU waiting. :class:`DeviceBatches` moves the whole
uint8 split once — 150 KB per 224-px image, 3 KB at 32 px — to the device, and a batch is then
one indexing operation (when the split would take more than ``device_fraction`` of the
device's memory, or the device is a CPU, each batch is instead gathered from the host copy,
on a GPU into pinned memory, and copied without blocking). Augmentation happens after, on
the same device, for the whole batch (:mod:`fgssl.gpu_augment`).

The batches are the DataLoader's: the epoch's order is drawn from the seeded generator as a
``DataLoader(shuffle=True, generator=...)`` draws it (a test checks they agree), so switching
paths changes speed, not results. Under ``torchrun`` each rank takes every ``world``-th position
of the same permutation (as ``DistributedSampler`` does), so the ranks' batches are disjoint.

Example::

    >>> data = CachedImages(np.zeros((10, 8, 8, 3), np.uint8), np.arange(10))
    >>> batches = DeviceBatches(data, batch_size=4, device=torch.device("cpu"))
    >>> [images.shape[0] for images, labels in batches.epoch(seed=0)]
    [4, 4]
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from fgssl.data.cache import CachedImages

DATA_PATHS = ("auto", "gpu", "cpu-loader")


def host_arrays(data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """``data``'s images as an (N, S, S, 3) uint8 array and its (N,) labels. A cache is used as
    it is (memory-mapped, nothing copied), a subset of one (as label budgets are) by its
    indices; any other dataset of ``(uint8 image tensor, label)`` items is read once."""
    if isinstance(data, Subset) and isinstance(data.dataset, CachedImages) \
            and data.dataset.transform is None:
        indices = np.asarray(data.indices)
        return _IndexedArray(data.dataset.images, indices), data.dataset.labels[indices]
    if isinstance(data, CachedImages) and data.transform is None:
        return data.images, data.labels
    items = [data[i] for i in range(len(data))]
    if not all(isinstance(image, torch.Tensor) and image.dtype == torch.uint8
               for image, _ in items):
        raise ValueError("the GPU data path needs items (uint8 image tensor, label); this "
                         "dataset transforms its images: use the DataLoader path")
    images = torch.stack([image for image, _ in items]).permute(0, 2, 3, 1).numpy()
    return images, np.array([label for _, label in items])


class _IndexedArray:
    """A view of rows ``indices`` of an array, gathered only when indexed."""

    def __init__(self, array: np.ndarray, indices: np.ndarray) -> None:
        self.array, self.indices = array, indices
        self.nbytes = len(indices) * int(np.prod(array.shape[1:])) * array.itemsize

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        return self.array[self.indices[rows]]


class DeviceBatches:
    """Shuffled batches of a split, gathered on ``device`` (see the module's docstring).

    ``len(batches)`` is the number of full batches per epoch and rank (the last partial batch
    is dropped, as in training). ``on_device`` says whether the split is held in the
    device's memory (by default: a GPU with room for it; ``hold`` decides otherwise) or
    gathered from host memory batch by batch (a CPU, whose "device memory" the cache already
    is, or a GPU without room).
    """

    def __init__(self, data: Dataset, batch_size: int, device: torch.device,
                 rank: int = 0, world: int = 1, device_fraction: float = 0.25,
                 hold: bool | None = None) -> None:
        if batch_size < 1 or not 0 <= rank < world:
            raise ValueError(f"need batch_size >= 1 and 0 <= rank < world, got {batch_size}, "
                             f"rank {rank} of {world}")
        self.batch_size, self.device, self.rank, self.world = batch_size, device, rank, world
        self.host_images, host_labels = host_arrays(data)
        self.size = len(host_labels)
        if len(self) == 0:
            raise ValueError(f"no training data: {self.size} images do not make one batch "
                             f"of {batch_size} on each of {world} processes")
        self.labels = torch.as_tensor(np.asarray(host_labels), dtype=torch.long)
        self.on_device = hold if hold is not None else device.type == "cuda" and \
            self.host_images.nbytes <= \
            device_fraction * torch.cuda.get_device_properties(device).total_memory
        self.images: torch.Tensor | None = None
        if self.on_device:  # (N, 3, S, S) uint8, copied once
            self.images = _to_tensor(self.host_images[np.arange(self.size)]).to(device)
            self.labels = self.labels.to(device)

    def __len__(self) -> int:
        return self.size // self.world // self.batch_size

    def epoch(self, seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of ``(images (B, 3, S, S) uint8, labels (B,))`` on the device, in the
        order a shuffling DataLoader draws with a generator seeded ``seed`` (this rank's
        share of it)."""
        generator = torch.Generator().manual_seed(seed)
        # a DataLoader first draws its workers' base seed from the generator, then the order
        torch.empty((), dtype=torch.int64).random_(generator=generator)
        order = torch.randperm(self.size, generator=generator)
        mine = order[self.rank::self.world][:len(self) * self.batch_size]
        if self.images is not None:  # the epoch's order copied once, not batch by batch
            for batch in mine.to(self.device).split(self.batch_size):
                yield self.images[batch], self.labels[batch]
            return
        for batch in mine.split(self.batch_size):
            images, labels = _to_tensor(self.host_images[batch.numpy()]), self.labels[batch]
            if self.device.type == "cuda":  # pinned, so the copy overlaps the computation
                images, labels = images.pin_memory(), labels.pin_memory()
            yield (images.to(self.device, non_blocking=True),
                   labels.to(self.device, non_blocking=True))


def _to_tensor(images: np.ndarray) -> torch.Tensor:
    """(B, S, S, 3) uint8 array -> (B, 3, S, S) contiguous uint8 tensor."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()


class LoaderBatches:
    """The same batches through a ``DataLoader`` (``workers`` processes collate them on the
    CPU; under torchrun a ``DistributedSampler`` gives each rank its share), copied to
    ``device``: the usual pipeline, and the one for datasets that transform their images."""

    def __init__(self, data: Dataset, batch_size: int, device: torch.device,
                 rank: int = 0, world: int = 1, workers: int = 0) -> None:
        self.data, self.batch_size, self.device = data, batch_size, device
        self.rank, self.world, self.workers = rank, world, workers
        if len(self) == 0:
            raise ValueError(f"no training data: {len(data)} images do not make one batch "
                             f"of {batch_size} on each of {world} processes")

    def __len__(self) -> int:
        return len(self.data) // self.world // self.batch_size

    def epoch(self, seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of ``(images, labels)`` on the device, shuffled by ``seed``."""
        sampler = None if self.world == 1 else DistributedSampler(
            self.data, self.world, self.rank, shuffle=True, seed=seed, drop_last=True)
        loader = DataLoader(self.data, batch_size=self.batch_size, shuffle=sampler is None,
                            sampler=sampler, drop_last=True, num_workers=self.workers,
                            generator=torch.Generator().manual_seed(seed),
                            pin_memory=self.device.type == "cuda")
        for images, labels in loader:
            yield (images.to(self.device, non_blocking=True),
                   labels.to(self.device, non_blocking=True))


def training_batches(data: Dataset, batch_size: int, device: torch.device, path: str = "auto",
                     rank: int = 0, world: int = 1, workers: int = 0
                     ) -> DeviceBatches | LoaderBatches:
    """The batches a training run draws, ``batch_size`` images per process and step.

    Args:
        data: items (uint8 (3, H, W) image, label).
        batch_size: images per process and step.
        device: where training runs.
        path: ``"gpu"`` (:class:`DeviceBatches`: the split held on ``device``),
            ``"cpu-loader"`` (:class:`LoaderBatches`: a DataLoader), or ``"auto"``: the GPU
            path for a uint8 cache (or a subset of one), the DataLoader for anything else.
        rank: this process's rank under torchrun.
        world: how many processes.
        workers: the DataLoader's worker processes.

    Returns:
        An iterable of epochs of (images, labels) batches."""
    if path not in DATA_PATHS:
        raise ValueError(f"data path must be one of {', '.join(DATA_PATHS)}, got {path!r}")
    if path == "auto":
        base = data.dataset if isinstance(data, Subset) else data
        path = "gpu" if isinstance(base, CachedImages) and base.transform is None \
            else "cpu-loader"
    if path == "gpu":
        return DeviceBatches(data, batch_size, device, rank, world)
    return LoaderBatches(data, batch_size, device, rank, world, workers)
