import json

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from fgssl.exercises.grade import main, verdicts

SUBMISSION = '''from fgssl.exercises import check_bug, check_psnr


def pick_device(cuda_available):
    return "cuda" if cuda_available() else "cpu"


def my_psnr(prediction, target):
    raise NotImplementedError


def confusion(true, predicted, num_classes):
    return true


pick_device = check_bug(13, pick_device)
my_psnr = check_psnr(my_psnr)
confusion = check_bug(9, confusion)'''


def test_verdicts_are_read_from_the_check_lines():
    notebook = new_notebook(cells=[new_code_cell("", outputs=[new_output(
        "stream", text="✗ knn: case 1 of 3: 2 of 10 differ\n  hint: ...\n✓ knn: passes 3\n"
                       "psnr: not solved yet — write your code\nknn is fine: ✓ ignored\n")])])
    assert verdicts(notebook) == {"knn": "pass", "psnr": "unsolved"}


def test_a_submission_is_run_and_scored(tmp_path, capsys):
    path = tmp_path / "08_submission.ipynb"
    uses_them = ("import torch\nassert my_psnr(torch.ones(1, 3, 4, 4), torch.ones(1, 3, 4, 4) / 2)"
                 " > 0\nassert confusion([0, 1], [1, 1], 2).tolist() == [[0, 1], [0, 1]]")
    nbformat.write(new_notebook(cells=[new_code_cell(SUBMISSION), new_code_cell("1 / 0"),
                                       new_code_cell(uses_them)]), path)
    assert main([str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])[0]
    assert result["exercises"] == {"bug13": "pass", "psnr": "unsolved", "bug09": "fail"}
    assert (result["score"], result["out_of"]) == (1, 3)
    assert result["errors"] == ["cell 2: ZeroDivisionError"]  # the unsolved and the wrong
    # answers were replaced by the kit's, so the cell that uses them ran (cell 3: no error)


def test_a_deleted_check_counts_as_unsolved(tmp_path, capsys):
    path = tmp_path / "10_submission.ipynb"
    notebook = new_notebook(cells=[new_code_cell(SUBMISSION)])
    notebook.metadata["fgssl"] = {"exercises": ["bug13", "psnr", "bug09", "bug01"]}
    nbformat.write(notebook, path)  # bug01's check cell is gone
    assert main([str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])[0]
    assert result["exercises"]["bug01"] == "unsolved"
    assert (result["score"], result["out_of"]) == (1, 4)


def test_a_missing_notebook_is_a_one_line_error(tmp_path, capsys):
    assert main([str(tmp_path / "nope.ipynb")]) == 1
    assert capsys.readouterr().err.startswith("grade: error: no such notebook")
