"""The figures the course quotes are the kit's reference results, so they cannot go stale.

The rule (docs/RESULTS.md, "Figures the course quotes"): every figure with a decimal point
given in percent, in dB or as a spread (``53.4%``, ``27.00 dB``, ``± 1.7``; a setting's range
is written without the space, ``±0.05``) in the README or
in a notebook's markdown must be one of the figures of ``docs/reference_results.json``, which
the benchmarks write (``--record``), unless its line cites an outside source (a paper, "et
al.", or a link). A whole-number percentage is a setting or a rounded description ("10% of the
labels"), not a result. A figure about the student's own run is printed by the cell that
made it, not typed.
"""

import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "reference_results.json"
FIGURE = re.compile(r"\d+\.\d+ ?%|\d+\.\d+ dB|± \d+\.\d+")
OUTSIDE_SOURCE = re.compile(r"et al\.|https?://")


def _normal(figure: str) -> str:
    return figure.replace(" %", "%")


def reference_figures(path: Path = RESULTS) -> set[str]:
    """Every figure of every record of the results file, as the course writes it."""
    records = json.loads(path.read_text())["records"]
    return {_normal(figure) for record in records.values()
            for figure in record["figures"].values()}


def unrecorded(text: str, figures: set[str]) -> list[str]:
    """The lines of ``text`` quoting a figure that ``figures`` lacks, each with the figure."""
    return [f"{figure!r} in: {line.strip()}" for line in text.splitlines()
            if not OUTSIDE_SOURCE.search(line)
            for figure in FIGURE.findall(line) if _normal(figure) not in figures]


def _markdown(path: Path) -> str:
    notebook = nbformat.read(path, as_version=4)
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


def _documents() -> dict[str, str]:
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    return {"README": (ROOT / "README.md").read_text(),
            **{path.stem: _markdown(path) for path in notebooks}}


@pytest.mark.parametrize("name", list(_documents()))
def test_every_quoted_figure_is_a_reference_result(name):
    problems = unrecorded(_documents()[name], reference_figures())
    assert not problems, (f"{name} quotes figures that docs/reference_results.json lacks (run "
                          "the benchmark that measures them with --record):\n"
                          + "\n".join(problems))


def test_a_planted_wrong_figure_fails(tmp_path):
    figures = reference_figures()
    readme = (ROOT / "README.md").read_text()
    quoted = [f for line in readme.splitlines() if not OUTSIDE_SOURCE.search(line)
              for f in FIGURE.findall(line) if "%" in f]
    assert quoted, "the README quotes no result to plant a wrong one beside"
    wrong = next(f"{float(quoted[0].rstrip(' %')) + step / 10:.1f}%" for step in range(1, 100)
                 if f"{float(quoted[0].rstrip(' %')) + step / 10:.1f}%" not in figures)
    planted = readme.replace(quoted[0], wrong, 1)
    assert unrecorded(readme, figures) == []
    assert unrecorded(planted, figures) == [f"{wrong!r} in: " + next(
        line.strip() for line in planted.splitlines() if wrong in line)]


def test_the_rule_reads_figures_and_spares_outside_sources():
    figures = {"53.4%", "± 1.7", "27.00 dB"}
    text = ("SimCLR 53.4% ± 1.7, PSNR 27.00 dB, 10% of the labels\n"
            "Jigsaw reaches 46.6% (Goyal et al. 2019)\n"
            "VICReg 44.1 %, BYOL 40.0% ± 2.3, 26.9 dB, a hue shift of ±0.05")
    line = "VICReg 44.1 %, BYOL 40.0% ± 2.3, 26.9 dB, a hue shift of ±0.05"
    assert unrecorded(text, figures) == [f"{figure!r} in: {line}" for figure in
                                         ("44.1 %", "40.0%", "± 2.3", "26.9 dB")]
