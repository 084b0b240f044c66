"""Write the student notebooks from the solution notebooks.

The solution notebooks (``notebooks/NN_*.ipynb``) are the source of truth. In them, each
exercise's answer sits between two marker lines::

    def my_psnr(prediction, target):
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

For every notebook with exercises, ``notebooks/student/<same name>`` gets the same notebook
with each marked region replaced by ``raise NotImplementedError`` (at the marker's
indentation), every output cleared, its Colab badge pointing at the student copy, and the
names of its exercises in its metadata (``fgssl.exercises``), so that the grader counts every
exercise, checked or not (:mod:`fgssl.exercises.grade`). Never edit a student notebook by
hand: a test fails when they differ from freshly generated ones.

Usage::

    python -m fgssl.exercises.make_student          # (re)write notebooks/student/
    python -m fgssl.exercises.make_student --check  # exit 1 if they are out of date
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from pathlib import Path

import nbformat

from fgssl.config import project_root
from fgssl.exercises import EXERCISES

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
GENERATED = ("*Your copy of this notebook: write each exercise in place of its `raise "
             "NotImplementedError`. Until you do, its check says \"not solved yet\" and the "
             "cells after it use the kit's version, so the whole notebook runs. (For "
             "instructors: this copy is generated from the solution notebook by `python -m "
             "fgssl.exercises.make_student`.)*")


def remove_solutions(source: str, where: str = "a cell") -> str:
    """``source`` with each BEGIN/END SOLUTION region replaced by ``raise NotImplementedError``."""
    lines, out, inside = source.split("\n"), [], False
    for line in lines:
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise ValueError(f"{where}: {BEGIN} inside another solution region")
            inside = True
            indent = line[:len(line) - len(line.lstrip())]
            out.append(f"{indent}raise NotImplementedError  # your code here")
        elif marker == END:
            if not inside:
                raise ValueError(f"{where}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN} without {END}")
    return "\n".join(out)


def exercises_in(notebook: nbformat.NotebookNode) -> list[str]:
    """The exercises a notebook checks, in order: each call ``check_<name>(...)``,
    ``check_bug(<number>, ...)`` or ``check("<name>", ...)`` in its code cells (a cell that
    is not valid Python is skipped)."""
    names: list[str] = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        python = "\n".join(line for line in cell.source.splitlines()
                           if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(python)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id.startswith("check")):
                continue
            first = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) \
                else None
            if node.func.id == "check_bug" and isinstance(first, int):
                names.append(f"bug{first:02d}")
            elif node.func.id == "check" and isinstance(first, str):
                names.append(first)
            elif node.func.id.startswith("check_") and node.func.id != "check_bug":
                names.append(node.func.id.removeprefix("check_"))
    return [name for name in dict.fromkeys(names) if name in EXERCISES]


def has_exercises(notebook: nbformat.NotebookNode) -> bool:
    return any(c.cell_type == "code" and BEGIN in c.source for c in notebook.cells)


def student_notebook(notebook: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The exercise version of a solution notebook called ``name`` (see the module)."""
    student = copy.deepcopy(notebook)
    for number, cell in enumerate(student.cells, start=1):
        if cell.cell_type != "code":
            continue
        cell.source = remove_solutions(cell.source, f"{name}, cell {number}")
        cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    title = student.cells[0]
    title.source = re.sub(rf"notebooks/{re.escape(name)}\b", f"notebooks/student/{name}",
                          title.source) + "\n\n" + GENERATED
    student.metadata.pop("widgets", None)
    student.metadata["fgssl"] = {"exercises": exercises_in(notebook)}
    return student


def generate(root: Path) -> dict[Path, str]:
    """Each student notebook's path and text, for the solution notebooks under ``root``."""
    written = {}
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        if has_exercises(notebook):
            student = student_notebook(notebook, path.name)
            written[root / "notebooks" / "student" / path.name] = nbformat.writes(student) + "\n"
    return written


def stale(root: Path) -> list[str]:
    """Student notebooks that are missing, differ from the generated ones, or have no
    solution notebook any more."""
    expected = generate(root)
    found = set((root / "notebooks" / "student").glob("*.ipynb"))
    problems = [p.name for p, text in expected.items()
                if not p.is_file() or p.read_text() != text]
    return problems + sorted(p.name for p in found - set(expected))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only check that notebooks/student/ is up to date")
    parser.add_argument("--root", type=Path, default=None, help="the checkout (default: this one)")
    args = parser.parse_args(argv)
    root = args.root or project_root()
    if args.check:
        problems = stale(root)
        if problems:
            print(f"student notebooks out of date: {', '.join(problems)}: run python -m "
                  "fgssl.exercises.make_student", file=sys.stderr)
            return 1
        return 0
    folder = root / "notebooks" / "student"
    folder.mkdir(parents=True, exist_ok=True)
    expected = generate(root)
    for path in set(folder.glob("*.ipynb")) - set(expected):
        path.unlink()
    for path, text in expected.items():
        path.write_text(text)
        print(f"wrote {path.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
