"""How long each notebook takes, top to bottom, as a student runs it: wall-clock seconds.

Each notebook is executed with nbclient (a fresh kernel per notebook, kernel start included)
under ``--profile``. ``--order isolated`` gives every notebook an empty ``runs/`` and data
folder of its own (what CI does: each notebook trains all it needs); ``--order sequence``
runs them in number order sharing one ``runs/`` (what a student following the course sees:
a later notebook reuses what an earlier one trained). Prints one JSON line per notebook as it
finishes, ``{"notebook", "seconds", "cells": {cell index: s}}`` (``cells``: the code cells that
took a second or more), so that a run cut off still leaves the notebooks it finished, then
one JSON object for the whole run: ``{"profile", "order", "seconds": {notebook: s}, "cells":
{notebook: {cell index: s}}, "total_s"}``.

Usage::

    python benchmarks/notebook_times.py --profile cpu --order sequence [--only 02 03]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def run_notebook(path: Path, runs: Path, data: Path, profile: str, timeout: int
                 ) -> tuple[float, dict[int, float]]:
    """Seconds to execute ``path`` top to bottom with ``runs`` and ``data`` as its folders,
    and the seconds of each code cell that took one or more (by its index)."""
    os.environ.update(FGSSL_PROFILE=profile, FGSSL_RUNS=str(runs), FGSSL_DATA=str(data))
    notebook = nbformat.read(path, as_version=4)
    cells: dict[int, float] = {}
    begun: dict[int, float] = {}

    def start(cell: Any, cell_index: int) -> None:
        begun[cell_index] = time.perf_counter()

    def executed(cell: Any, cell_index: int, execute_reply: Any) -> None:
        took = time.perf_counter() - begun.pop(cell_index)
        if took >= 1.0:
            cells[cell_index] = round(took, 1)

    started = time.perf_counter()
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}},
                   on_cell_execute=start, on_cell_executed=executed).execute()
    return time.perf_counter() - started, cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="ci", choices=("ci", "cpu", "gpu", "full"))
    parser.add_argument("--order", default="isolated", choices=("isolated", "sequence"))
    parser.add_argument("--only", nargs="*", default=None, help="notebook numbers, e.g. 02 03")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell at most")
    args = parser.parse_args()
    paths = sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")
                   if args.only is None or p.name[:2] in args.only)
    seconds: dict[str, float] = {}
    cells: dict[str, dict[int, float]] = {}
    with tempfile.TemporaryDirectory(prefix="fgssl-notebook-times-") as scratch:
        shared = Path(scratch) / "shared"
        for path in paths:
            folder = shared if args.order == "sequence" else Path(scratch) / path.stem
            took, cells[path.stem] = run_notebook(path, folder / "runs", folder / "data",
                                                  args.profile, args.timeout)
            seconds[path.stem] = round(took, 1)
            print(json.dumps({"notebook": path.stem, "seconds": seconds[path.stem],
                              "cells": cells[path.stem]}), flush=True)
    print(json.dumps({"profile": args.profile, "order": args.order, "seconds": seconds,
                      "cells": cells, "total_s": round(sum(seconds.values()), 1)}))


if __name__ == "__main__":
    main()
