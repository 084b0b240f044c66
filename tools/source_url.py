"""The kit's source address, written once: ``[project.urls] Source`` in pyproject.toml.

Every notebook's Colab badge and install cell (``%pip install -q "fgssl @ git+<Source>"``)
are made from it. A course that runs from its own copy of the kit (a fork) changes the
address in pyproject.toml and runs this once; a test fails while a notebook disagrees.

Usage::

    python tools/source_url.py            # rewrite every notebook from pyproject.toml
    python tools/source_url.py --check    # exit 1, naming them, when a notebook disagrees
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
INSTALL = re.compile(r'%pip install -q "fgssl @ git\+[^"]*"')
BADGE = re.compile(r"https://colab\.research\.google\.com/github/[^)\s]*")


def source_url(root: Path = ROOT) -> str:
    """The address in pyproject.toml, e.g. ``https://github.com/fgssl/fgssl``."""
    return tomllib.loads((root / "pyproject.toml").read_text())["project"]["urls"]["Source"]


def rewritten(path: Path, root: Path = ROOT) -> nbformat.NotebookNode:
    """Notebook ``path`` with its install line and Colab badge made from the address (a
    GitHub address: Colab opens notebooks from GitHub)."""
    url = source_url(root)
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", url)
    if match is None:
        raise SystemExit(f"Source in pyproject.toml is {url!r}: Colab opens notebooks from "
                         "GitHub, so give https://github.com/OWNER/REPOSITORY")
    owner, repository = match.groups()
    badge = (f"https://colab.research.google.com/github/{owner}/{repository}/blob/main/"
             f"{path.resolve().relative_to(root).as_posix()}")
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        cell.source = INSTALL.sub(f'%pip install -q "fgssl @ git+{url}"', cell.source)
        cell.source = BADGE.sub(badge, cell.source)
    return notebook


def notebooks(root: Path = ROOT) -> list[Path]:
    return sorted((root / "notebooks").glob("**/*.ipynb"))


def disagreeing(root: Path = ROOT) -> list[Path]:
    """The notebooks whose install line or badge is not made from the address."""
    return [path for path in notebooks(root)
            if rewritten(path, root) != nbformat.read(path, as_version=4)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.check:
        stale = disagreeing()
        for path in stale:
            print(f"{path.relative_to(ROOT)} does not use {source_url()}: run "
                  "python tools/source_url.py", file=sys.stderr)
        sys.exit(1 if stale else 0)
    for path in disagreeing():
        nbformat.write(rewritten(path), path)
        print(f"rewrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
