"""Training on several processes: ``torchrun --nproc_per_node N -m fgssl pretrain ...``.

PyTorch's own engine does the work (nothing home-made): ``torchrun`` starts one process per
GPU (or per CPU share) and sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; :func:`start`
joins them into a process group (NCCL on GPUs, gloo on CPUs) and :func:`fgssl.train.fit` wraps
the method in ``DistributedDataParallel``, which averages gradients across ranks after every
backward pass. Each rank trains on its own share of every epoch's batches (the global batch
split evenly), a method that needs the whole batch in its loss gathers it
(:func:`fgssl.distributed.gather_with_grad`: SimCLR's negatives, VICReg's statistics), and
rank 0 alone shows progress, runs the monitors and writes checkpoints; the helpers below let
the loop agree across ranks. Several machines: the same command with torchrun's rendezvous
flags (``--nnodes``, ``--node_rank``, ``--rdzv_endpoint``) on each.

Example (two processes on one machine)::

    torchrun --nproc_per_node 2 -m fgssl pretrain simclr --data synthbirds
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from fgssl.config import torchrun_launch


@dataclass(frozen=True)
class Launch:
    """This process's place among the ``world`` processes torchrun started."""

    rank: int
    local_rank: int
    world: int
    device: torch.device


def start(device: str | None = None) -> Launch | None:
    """Join torchrun's process group (once per process); ``None`` when not under torchrun.
    The device is this process's GPU (``cuda:LOCAL_RANK``) when CUDA is there, else the CPU."""
    launch = torchrun_launch()
    if launch is None:
        return None
    rank, local_rank, world = launch
    use_cuda = torch.cuda.is_available() and (device is None or device.startswith("cuda"))
    where = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(where)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return Launch(rank, local_rank, world, where)


def any_rank(flag: bool, launch: Launch | None) -> bool:
    """True when ``flag`` is true on any rank (every rank must ask at the same point)."""
    if launch is None:
        return flag
    value = torch.tensor([float(flag)], device=launch.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def from_main(value: Any, launch: Launch | None) -> Any:
    """Rank 0's ``value`` (any picklable object), on every rank."""
    if launch is None:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def gather(value: Any, launch: Launch | None) -> list[Any]:
    """Every rank's ``value``, in rank order (on every rank)."""
    if launch is None:
        return [value]
    values: list[Any] = [None] * launch.world
    dist.all_gather_object(values, value)
    return values


def barrier(launch: Launch | None) -> None:
    """Wait until every rank gets here."""
    if launch is not None:
        dist.barrier()
