"""Every student notebook runs top to bottom with nothing solved (the ``ci`` profile, as the
grader runs a submission), and the grader scores each of its exercises as unsolved. These are
the student copies' only run in ``make test`` (nbval runs the solution notebooks). Each is
graded as a student grades it, by ``python -m fgssl.exercises.grade`` in a process of its own,
given 150 s (a student copy takes under a minute in ``ci``) and run once more if it does not
finish: on a loaded machine a kernel (ipykernel 7.4) has now and then left a request
unanswered, kernel and client both idle, until the cell's timeout; its cause is not known."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

STUDENT = sorted((Path(__file__).resolve().parents[2] / "notebooks" / "student").glob("*.ipynb"))


def test_there_are_student_notebooks():
    assert len(STUDENT) >= 7


@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.name)
def test_an_unsolved_student_notebook_runs_and_scores_zero(path):
    expected = nbformat.read(path, as_version=4).metadata["fgssl"]["exercises"]
    command = [sys.executable, "-m", "fgssl.exercises.grade", "--json", str(path)]
    try:
        graded = subprocess.run(command, capture_output=True, text=True, timeout=150, check=True)
    except subprocess.TimeoutExpired:
        graded = subprocess.run(command, capture_output=True, text=True, timeout=150, check=True)
    result = json.loads(graded.stdout.splitlines()[-1])[0]
    assert result["errors"] == []
    assert result["exercises"] == dict.fromkeys(expected, "unsolved")
    assert (result["score"], result["out_of"]) == (0, len(expected)) and expected
