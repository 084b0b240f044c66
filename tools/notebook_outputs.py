"""Keep committed notebooks clean: every output stripped (a notebook's checks are ``assert``s,
which nbval runs).

Usage::

    python tools/notebook_outputs.py notebooks/*.ipynb            # strip in place
    python tools/notebook_outputs.py --execute notebooks/*.ipynb  # re-run (ci profile), then strip

A test (tests/test_notebooks.py) fails when a committed notebook breaks this rule.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import nbformat


def strip(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop every output, execution count and run metadata: what a notebook checks, it checks
    with ``assert``s, which nbval runs."""
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        cell.execution_count = None
        cell.outputs = []
    notebook.metadata.pop("widgets", None)
    return notebook


def execute(notebook: nbformat.NotebookNode, folder: Path) -> None:
    from nbclient import NotebookClient

    os.environ["FGSSL_PROFILE"] = "ci"
    NotebookClient(notebook, timeout=600, resources={"metadata": {"path": str(folder)}}).execute()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--execute", action="store_true", help="run each notebook first")
    args = parser.parse_args()
    for path in args.paths:
        notebook = nbformat.read(path, as_version=4)
        if args.execute:
            execute(notebook, path.parent)
        nbformat.write(strip(notebook), path)
        print(f"{path}: clean")


if __name__ == "__main__":
    main()
