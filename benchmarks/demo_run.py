"""`fgssl demo` from an empty runs folder: its wall time, and its table as reference figures.

Runs ``fgssl demo --profile P`` in a fresh process with ``FGSSL_RUNS`` set to an empty
temporary folder (so every model is trained now, nothing reused), times the whole command,
and reads its ``results.json``: per row (method, protocol, label budget) the mean test top-1
over the evaluation seeds and its spread, each model's training seconds, and the study's
wall time. ``--reference-s`` (SimCLR ``object_crop``'s pretraining seconds measured the
same day on the same machine, e.g. by ``benchmarks/ssl_synthbirds.py``) adds the ratio of
the demo's wall time to it.

Usage::

    python benchmarks/demo_run.py [--profile cpu] [--reference-s 170] [--record demo_cpu]

Prints one JSON object; with ``--record NAME`` the figures also become record ``NAME`` of the
kit's reference results (``benchmarks/reference.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from reference import percent, record, spread


def run_demo(profile: str, runs: Path) -> tuple[float, dict[str, Any]]:
    """The demo's wall time (seconds) and its results, trained into the empty ``runs``; the
    results gain ``peak_gb``, the largest resident memory of the demo or one of its workers."""
    started = time.perf_counter()
    command = "import sys; from fgssl.cli import main; sys.exit(main(sys.argv[1:]))"
    subprocess.run([sys.executable, "-c", command, "demo", "--profile", profile],
                   env={**os.environ, "FGSSL_RUNS": str(runs)}, check=True)
    wall_s = time.perf_counter() - started
    found = sorted(runs.glob(f"{profile}/synthbirds/demo/results.json"))
    if not found:
        raise SystemExit(f"demo_run: error: the demo wrote no results.json under {runs}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: KiB
    return wall_s, {**json.loads(found[0].read_text()), "peak_gb": peak_kib / 1024 ** 2}


def demo_figures(results: dict[str, Any], wall_s: float, reference_s: float | None
                 ) -> dict[str, str]:
    """Each row's mean top-1 and its spread (``<method>.<protocol>.<labels>``) and, where the
    row has one, its sibling accuracy (``....sibling``), each model's training seconds, the
    wall time (with its ratio to ``reference_s``) and the peak memory."""
    figures: dict[str, str] = {}
    for row in results["rows"]:
        key = f"{row['method']}.{row['protocol']}.{row['labels']:g}"
        figures[key] = percent(row["top1_mean"])
        if len(row["top1_values"]) > 1:
            figures[f"{key}.spread"] = spread(row["top1_values"])
        if "sibling_accuracy_mean" in row:
            figures[f"{key}.sibling"] = percent(row["sibling_accuracy_mean"])
    for name, model in results["models"].items():
        if "train_s" in model:
            figures[f"{name}.train_s"] = f"{model['train_s']:.0f} s"
    figures["wall_s"] = f"{wall_s:.0f} s"
    if "peak_gb" in results:
        figures["peak_memory"] = f"{results['peak_gb']:.1f} GB"
    if reference_s:
        figures["wall_over_simclr"] = f"{wall_s / reference_s:.2f}×"
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--reference-s", type=float, default=None,
                        help="SimCLR object_crop's pretraining seconds, measured the same day")
    parser.add_argument("--record", metavar="NAME",
                        help="also write the figures to docs/reference_results.json as NAME")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fgssl-demo-runs-") as runs:
        wall_s, results = run_demo(args.profile, Path(runs))
    figures = demo_figures(results, wall_s, args.reference_s)
    if args.record:
        record(args.record, figures, sys.argv)
    print(json.dumps({"profile": args.profile, "wall_s": round(wall_s, 1),
                      "reference_s": args.reference_s, "figures": figures}))


if __name__ == "__main__":
    main()
