"""Training on several processes: ``torchrun --nproc_per_node N -m fgssl pretrain ...``.

PyTorch's own engine does the work (nothing home-made): ``torchrun`` starts one process per
GPU (or per CPU share) and sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; :func:`start`
joins them into a process group (NCCL on GPUs, gloo on CPUs) and :func:`fgssl.train.fit` wraps
the method in ``DistributedDataParallel``, which averages gradients across ranks after every
backward pass. Each rank trains on its own share of every epoch's batches (the global batch
split evenly), SimCLR gathers its negatives from every rank (:func:`gather_with_grad`: with
gradients, so the loss is the single-process loss on the global batch), and rank 0 alone
shows progress, runs the monitors and writes checkpoints. Several machines: the same command
with torchrun's rendezvous flags (``--nnodes``, ``--node_rank``, ``--rdzv_endpoint``) on each.

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


def initialised() -> bool:
    """Whether this process belongs to a process group (launched by torchrun and joined)."""
    return dist.is_available() and dist.is_initialized()


class _GatherWithGrad(torch.autograd.Function):
    """``all_gather`` of every rank's (n, ...) rows whose backward returns to each rank the
    gradient of *its* rows summed over all ranks' losses (each rank's loss uses every rank's
    rows)."""

    @staticmethod
    def forward(ctx: Any, rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
        gathered = [torch.empty_like(rows) for _ in range(dist.get_world_size())]
        dist.all_gather(gathered, rows.contiguous())
        return tuple(gathered)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> torch.Tensor:
        summed = torch.stack(grads)  # (world, n, ...): this rank's loss w.r.t. every rank's rows
        dist.all_reduce(summed)
        return summed[dist.get_rank()]


def gather_with_grad(rows: torch.Tensor) -> tuple[torch.Tensor, int]:
    """All ranks' (n, ...) rows concatenated in rank order, with gradients flowing back to
    each rank (a loss over the whole batch: SimCLR's negatives, VICReg's statistics); and
    the offset of this rank's rows in the result."""
    gathered = torch.cat(_GatherWithGrad.apply(rows), dim=0)
    return gathered, dist.get_rank() * rows.shape[0]
