"""Two CPU processes joined by gloo, for tests that a distributed computation equals the
single-process one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _entry(rank: int, worker: Callable[..., dict], folder: str, args: tuple) -> None:
    dist.init_process_group("gloo", init_method=f"file://{folder}/init", rank=rank,
                            world_size=2)
    try:
        torch.save(worker(rank, 2, *args), f"{folder}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def on_two_ranks(worker: Callable[..., dict], folder: Path, *args: Any) -> list[dict]:
    """``worker(rank, world, *args)`` in two processes (a function at a module's top level,
    returning tensors in a dict); what each returned, in rank order."""
    mp.spawn(_entry, args=(worker, str(folder), args), nprocs=2, join=True)
    return [torch.load(folder / f"rank{rank}.pt", weights_only=True) for rank in range(2)]
