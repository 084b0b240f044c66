"""The kit's reference results: one file that the benchmarks write and the course quotes.

A benchmark run with ``--record NAME`` adds (or replaces) the record ``NAME`` in
``docs/reference_results.json``: its figures as the course quotes them (``"53.4%"``,
``"± 1.7"``, ``"27.00 dB"``), with the command that measured them, the machine and the date.
``tests/test_quoted_figures.py`` holds every figure that the README and the notebooks'
markdown quote to that file (the rule is in docs/RESULTS.md, "Figures the course quotes").

Used by the benchmark scripts::

    from reference import percent, record, spread
    record("ssl_methods", {"simclr.linear_all": percent(0.534)}, sys.argv)
"""

from __future__ import annotations

import datetime
import json
import platform
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "reference_results.json"


def percent(fraction: float) -> str:
    """A top-1 (a fraction) as the course quotes it: ``0.5342`` -> ``"53.4%"``."""
    return f"{100 * fraction:.1f}%"


def spread(fractions: Sequence[float]) -> str:
    """The standard deviation of top-1s over seeds, in points: ``"± 1.7"``."""
    return f"± {100 * statistics.stdev(fractions):.1f}"


def top1_figures(key: str, fractions: Sequence[float]) -> dict[str, str]:
    """A top-1 over seeds as the course quotes it: its mean under ``key`` and, over two seeds
    or more, its spread under ``key.spread``."""
    figures = {key: percent(statistics.mean(fractions))}
    if len(fractions) > 1:
        figures[f"{key}.spread"] = spread(fractions)
    return figures


def points(difference: float) -> str:
    """A difference of two top-1s in points, signed: ``0.453`` -> ``"+45.3"``."""
    return f"{100 * difference:+.1f}"


def machine() -> str:
    """The CPU's model name and the threads torch uses (and the GPU's name, if any)."""
    name = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        models = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                  if line.startswith("model name")]
        name = models[0] if models else name
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return f"{name}, {torch.get_num_threads()} threads{gpu}"


def record(name: str, figures: dict[str, str], argv: Sequence[str],
           path: Path = RESULTS) -> None:
    """Write record ``name`` (its ``figures``, keyed by what they are, and the command
    ``argv`` that measured them) into the results file at ``path``, keeping the others."""
    results = json.loads(path.read_text()) if path.is_file() else {"records": {}}
    results["records"][name] = {
        "command": "python " + " ".join(argv), "machine": machine(),
        "date": datetime.date.today().isoformat(), "figures": figures}
    results["records"] = dict(sorted(results["records"].items()))
    path.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    print(f"recorded {len(figures)} figures as {name!r} in {path}", file=sys.stderr)
