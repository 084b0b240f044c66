"""Run a module or script on the precision path a T4 takes: fp16 autocast with a gradient
scaler, on a GPU that would otherwise take bf16 (an A100, H100 or H200 computes bf16 natively,
a T4 does not: :func:`fgssl.optimisation.precision` then picks fp16 and a scaler). Only this
process is affected, not the processes it starts.

Usage::

    python benchmarks/force_fp16.py -m fgssl bench --profile full --json
    python benchmarks/force_fp16.py benchmarks/simclr_run.py --size 96
"""

from __future__ import annotations

import runpy
import sys

import torch


def _no_native_bf16(including_emulation: bool = True) -> bool:
    """What ``torch.cuda.is_bf16_supported`` answers on a T4 for native bf16."""
    return False


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit("usage: force_fp16.py -m MODULE [ARGS] | force_fp16.py SCRIPT [ARGS]")
    torch.cuda.is_bf16_supported = _no_native_bf16
    if sys.argv[1] == "-m":
        module, sys.argv = sys.argv[2], [sys.argv[2], *sys.argv[3:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    else:
        sys.argv = sys.argv[1:]
        runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
