"""One optimisation step, as :func:`fgssl.train.fit` and ``fgssl bench`` both take it.

:func:`optimisation` prepares, for a method on a device, its optimizer(s), a learning-rate
schedule per optimizer that is *stepped* (linear warm-up, then cosine decay, per step — the
study created a scheduler and never stepped it) and mixed precision: bf16 where the GPU
supports it, else fp16 with a gradient scaler; bf16 on a CPU that computes it natively,
float32 on other CPUs. :meth:`Optimisation.step` then runs one iteration of the method: each
of its losses computed under autocast, backpropagated (outside it) and its optimizer stepped,
with the method's hook after every step.

Example::

    >>> opt = optimisation(method, torch.device("cpu"), lr=0.1, total_steps=100)  # doctest: +SKIP
    >>> loss, logs = opt.step(method.training_steps(inputs, labels), method)   # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch

from fgssl.methods.base import Inputs, Log, Method, Step
from fgssl.utils import cpu_has_native_bf16


def warmup_cosine(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """Learning-rate factor at a step: linear warm-up to 1, then cosine decay to 0."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return factor


def precision(device: torch.device, amp: bool) -> tuple[Any, torch.amp.GradScaler]:
    """Mixed precision for a device: bf16 autocast on CPUs with native bf16 and on GPUs that
    have it, fp16 with a loss scaler on older GPUs, none elsewhere.

    Args:
        device: where training runs.
        amp: whether to use mixed precision at all.

    Returns:
        An autocast context, and a gradient scaler (enabled for fp16 only)."""
    if amp and device.type == "cpu" and cpu_has_native_bf16():
        return torch.autocast("cpu", dtype=torch.bfloat16), \
            torch.amp.GradScaler("cpu", enabled=False)
    if not amp or device.type != "cuda":
        return nullcontext(), torch.amp.GradScaler("cpu", enabled=False)
    # a T4 "supports" bf16 only by emulation, far slower than its fp16 tensor cores
    native_bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
    dtype = torch.bfloat16 if native_bf16 else torch.float16
    return (torch.autocast("cuda", dtype=dtype),
            torch.amp.GradScaler("cuda", enabled=dtype == torch.float16))


def to_device(inputs: Inputs, device: torch.device) -> Inputs:
    """A method's inputs on ``device``, image batches channels-last (faster convolutions)."""
    def move(t: torch.Tensor) -> torch.Tensor:
        t = t.to(device, non_blocking=True)
        return t.contiguous(memory_format=torch.channels_last) if t.ndim == 4 else t
    return tuple(move(t) for t in inputs) if isinstance(inputs, tuple) else move(inputs)


@dataclass
class Optimisation:
    """A method's optimizers, their schedules, and its mixed precision."""

    optimizers: list[torch.optim.Optimizer]
    schedulers: list[torch.optim.lr_scheduler.LambdaLR]
    scaler: torch.amp.GradScaler
    autocast: Any

    def step(self, steps: Iterator[Step], method: Method
             ) -> tuple[torch.Tensor, list[dict[str, Log]]]:
        """Take an iteration's ``(optimizer index, loss, logs)`` steps one at a time (a later
        one sees the weights the earlier ones updated): backpropagate the loss, drop the
        gradients of the method's ``frozen_parameters()``, clip the gradient norm to its
        ``clip_gradients`` if set, step the optimizer, call ``method.after_step(index)``.
        Then advance the schedule of each optimizer used — once per iteration, so that a
        method taking several steps with one optimizer (PMG) follows the same schedule over
        the run. Returns the last loss (detached) and every step's logs. Nothing here waits
        for the device."""
        logs, stepped = [], []
        for index, loss, step_logs in _under_autocast(steps, self.autocast):
            optimizer = self.optimizers[index]
            optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            for parameter in method.frozen_parameters():
                parameter.grad = None
            if method.clip_gradients is not None:
                self.scaler.unscale_(optimizer)  # clip the true gradients, not scaled ones
                torch.nn.utils.clip_grad_norm_(
                    [p for group in optimizer.param_groups for p in group["params"]],
                    method.clip_gradients)
            self.scaler.step(optimizer)
            self.scaler.update()  # each step is its own backward: its own loss scale
            method.after_step(index)
            logs.append(step_logs)
            stepped.append(index)
        for index in dict.fromkeys(stepped):  # once per iteration, however many steps it took
            self.schedulers[index].step()
        return loss.detach(), logs

    def state_dict(self) -> dict[str, Any]:
        return {"optimizers": [o.state_dict() for o in self.optimizers],
                "schedulers": [s.state_dict() for s in self.schedulers],
                "scaler": self.scaler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for holder, saved in zip(self.optimizers + self.schedulers,
                                 state["optimizers"] + state["schedulers"], strict=True):
            holder.load_state_dict(saved)
        self.scaler.load_state_dict(state["scaler"])

    @property
    def lr(self) -> float:
        """The first optimizer's learning rate now."""
        return self.schedulers[0].get_last_lr()[0]


def optimisation(method: Method, device: torch.device, lr: float, total_steps: int,
                 weight_decay: float = 5e-4, warmup_fraction: float = 0.1,
                 amp: bool = True) -> Optimisation:
    """The method's optimizers at rate ``lr``, warm-up + cosine over ``total_steps``, and
    mixed precision for ``device`` when ``amp``."""
    optimizers = method.optimizers(lr, weight_decay)
    schedule = warmup_cosine(total_steps, max(1, int(warmup_fraction * total_steps)))
    schedulers = [torch.optim.lr_scheduler.LambdaLR(o, schedule) for o in optimizers]
    autocast, scaler = precision(device, amp)
    return Optimisation(optimizers, schedulers, scaler, autocast)


def _under_autocast(steps: Iterator[Step], autocast: Any) -> Iterator[Step]:
    """The method's steps, each loss computed under ``autocast`` (its backward is not)."""
    while True:
        with autocast:  # the method computes its next loss inside next()
            taken = next(steps, None)
        if taken is None:
            return
        yield taken
