"""Collectives a method uses inside its training step when torchrun runs several processes
(:mod:`fgssl.torchrun` starts them): whether this process is one of a group, and a gather
of every process's rows that gradients flow back through, for a loss over the whole batch
(SimCLR's negatives, VICReg's statistics, DINO's centre uses ``all_reduce`` directly).

Example::

    >>> initialised()     # one process, no torchrun
    False
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist


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
