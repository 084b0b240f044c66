"""Every student notebook runs top to bottom with nothing solved (the ``ci`` profile, as the
grader runs a submission), and the grader scores each of its exercises as unsolved. These are
the student copies' only run in ``make test`` (nbval runs the solution notebooks)."""

from pathlib import Path

import nbformat
import pytest

from fgssl.exercises.grade import grade

STUDENT = sorted((Path(__file__).resolve().parents[2] / "notebooks" / "student").glob("*.ipynb"))


def test_there_are_student_notebooks():
    assert len(STUDENT) >= 7


@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.name)
def test_an_unsolved_student_notebook_runs_and_scores_zero(path):
    expected = nbformat.read(path, as_version=4).metadata["fgssl"]["exercises"]
    result = grade(path)
    assert result["errors"] == []
    assert result["exercises"] == dict.fromkeys(expected, "unsolved")
    assert (result["score"], result["out_of"]) == (0, len(expected)) and expected
