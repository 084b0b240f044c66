"""Grade submitted notebooks by running them and reading their self-checks.

Every check prints one line: ``✓ <exercise>: ...``, ``✗ <exercise>: ...`` or ``<exercise>:
not solved yet ...``. This runs each submission top to bottom (nbclient, ``ci`` profile,
errors allowed, so one broken cell does not hide the rest) and reports, per exercise,
``pass``, ``fail`` or ``unsolved`` — the last verdict printed — and the score. The exercises
counted are those the student copy names in its metadata (written by
:mod:`fgssl.exercises.make_student`; else those the notebook's code checks), with those
printed: an exercise whose check cell was deleted is ``unsolved``, not left out.

Usage::

    python -m fgssl.exercises.grade submissions/*.ipynb [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import nbformat

from fgssl.exercises.make_student import exercises_in

VERDICT = re.compile(r"^(?:(?P<mark>[✓✗]) (?P<name>\w+): |(?P<unsolved>\w+): not solved yet)")


def verdicts(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """The last verdict printed for each exercise in an executed notebook's outputs."""
    found: dict[str, str] = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                match = VERDICT.match(line)
                if match is None:
                    continue
                if match["unsolved"]:
                    found[match["unsolved"]] = "unsolved"
                else:
                    found[match["name"]] = "pass" if match["mark"] == "✓" else "fail"
    return found


def expected_exercises(notebook: nbformat.NotebookNode) -> list[str]:
    """The exercises a submission is graded on: those its metadata names (a student copy's),
    else those its code checks."""
    named = notebook.metadata.get("fgssl", {}).get("exercises")
    return list(named) if named is not None else exercises_in(notebook)


def grade(path: Path, timeout: int = 600) -> dict[str, Any]:
    """Run the notebook at ``path`` (in its folder) and read its verdicts and errors; an
    expected exercise with no verdict printed is ``unsolved``."""
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    expected = expected_exercises(notebook)
    saved = os.environ.get("FGSSL_PROFILE")
    os.environ["FGSSL_PROFILE"] = "ci"
    try:
        NotebookClient(notebook, timeout=timeout, allow_errors=True,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        if saved is None:
            os.environ.pop("FGSSL_PROFILE")
        else:
            os.environ["FGSSL_PROFILE"] = saved
    errors = [f"cell {number}: {output['ename']}" for number, cell in
              enumerate(notebook.cells, start=1) for output in cell.get("outputs", [])
              if output.get("output_type") == "error"]
    found = {**dict.fromkeys(expected, "unsolved"), **verdicts(notebook)}
    return {"notebook": str(path), "exercises": found,
            "score": sum(v == "pass" for v in found.values()), "out_of": len(found),
            "errors": errors}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", type=Path, nargs="+")
    parser.add_argument("--json", action="store_true", help="print one JSON list last")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        print(f"grade: error: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 1
    results = [grade(path) for path in args.notebooks]
    for result in results:
        print(f"{result['notebook']}: {result['score']} / {result['out_of']}")
        for name, verdict in result["exercises"].items():
            print(f"  {name:<16} {verdict}")
        for error in result["errors"]:
            print(f"  error in {error}")
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
