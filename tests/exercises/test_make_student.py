from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from fgssl.exercises.make_student import (
    GENERATED,
    exercises_in,
    main,
    remove_solutions,
    stale,
    student_notebook,
)

ROOT = Path(__file__).resolve().parents[2]
EXERCISE = """def my_psnr(prediction, target):
    \"\"\"PSNR per image.\"\"\"
    ### BEGIN SOLUTION
    mse = ((prediction - target) ** 2).mean()
    return 10 * torch.log10(1 / mse)
    ### END SOLUTION

my_psnr = check_psnr(my_psnr)"""


def _solution_notebook() -> nbformat.NotebookNode:
    code = new_code_cell(EXERCISE, outputs=[new_output("stream", text="✓ psnr")],
                         execution_count=3)
    return new_notebook(cells=[
        new_markdown_cell("# 03\n[badge](https://x/blob/main/notebooks/03_srgan.ipynb)"),
        new_code_cell("import torch", execution_count=1),
        new_markdown_cell("Write PSNR."),
        code])


def test_a_solution_region_becomes_raise_not_implemented_at_its_indentation():
    student = remove_solutions(EXERCISE)
    assert "BEGIN SOLUTION" not in student and "mse" not in student
    assert '    """PSNR per image."""\n    raise NotImplementedError  # your code here\n\nmy_psnr' \
        in student
    two = remove_solutions("a = 1\n### BEGIN SOLUTION\nb = 2\n### END SOLUTION\n"
                           "if a:\n    ### BEGIN SOLUTION\n    c = 3\n    ### END SOLUTION")
    assert two == ("a = 1\nraise NotImplementedError  # your code here\nif a:\n"
                   "    raise NotImplementedError  # your code here")


@pytest.mark.parametrize("source", ["### END SOLUTION", "### BEGIN SOLUTION\nx = 1",
                                    "### BEGIN SOLUTION\n### BEGIN SOLUTION"])
def test_unbalanced_markers_are_an_error_naming_the_cell(source):
    with pytest.raises(ValueError, match=r"03_srgan\.ipynb, cell 2"):
        remove_solutions(source, "03_srgan.ipynb, cell 2")


def test_the_student_notebook_keeps_everything_else():
    solution = _solution_notebook()
    student = student_notebook(solution, "03_srgan.ipynb")
    assert solution.cells[3].outputs  # the solution notebook itself is left alone
    assert [c.cell_type for c in student.cells] == [c.cell_type for c in solution.cells]
    assert student.cells[0].source.startswith(
        "# 03\n[badge](https://x/blob/main/notebooks/student/03_srgan.ipynb)")
    assert student.cells[0].source.endswith(GENERATED)
    assert student.cells[1].source == "import torch" and student.cells[2].source == "Write PSNR."
    assert "raise NotImplementedError" in student.cells[3].source
    assert student.metadata["fgssl"] == {"exercises": ["psnr"]}  # what the grader counts
    for cell in student.cells[1:]:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    nbformat.validate(student)


def test_the_committed_student_notebooks_are_the_generated_ones():
    assert stale(ROOT) == [], "run python -m fgssl.exercises.make_student"
    assert list((ROOT / "notebooks" / "student").glob("*.ipynb")), "no student notebooks"


def test_check_mode_fails_on_a_stale_copy_and_writing_fixes_it(tmp_path, capsys):
    (tmp_path / "notebooks").mkdir()
    nbformat.write(_solution_notebook(), tmp_path / "notebooks" / "03_srgan.ipynb")
    assert main(["--check", "--root", str(tmp_path)]) == 1
    assert "03_srgan.ipynb" in capsys.readouterr().err
    assert main(["--root", str(tmp_path)]) == 0
    assert main(["--check", "--root", str(tmp_path)]) == 0
    (tmp_path / "notebooks" / "student" / "old.ipynb").write_text("{}")
    assert main(["--check", "--root", str(tmp_path)]) == 1


def test_the_exercises_of_a_notebook_are_its_checks_in_order():
    notebook = new_notebook(cells=[
        new_code_cell("f = check_knn(f)\ng = check_bug(3, g)\nh = check('psnr', h)"),
        new_code_cell("check_trained_on(state)\nf = check_knn(f)  # again"),
        new_code_cell("def broken(:"),  # a student's syntax error does not stop the grader
        new_markdown_cell("check_freeze(f) in prose is not a check")])
    assert exercises_in(notebook) == ["knn", "bug03", "psnr"]
