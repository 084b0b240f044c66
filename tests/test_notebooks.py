"""Rules for the committed notebooks (their execution is nbval's job: `make test`)."""

import ast
import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

from fgssl.exercises.make_student import BEGIN

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
_spec = importlib.util.spec_from_file_location("notebook_outputs",
                                               ROOT / "tools" / "notebook_outputs.py")
notebook_outputs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(notebook_outputs)


def test_the_notebook_sequence_starts_at_00():
    names = [p.stem for p in NOTEBOOKS]
    assert names[:2] == ["00_start_here", "01_fine_grained_data"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_are_stripped(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, (
                f"{path.name}: strip outputs (python tools/notebook_outputs.py)"
            )
            assert "NBVAL_CHECK_OUTPUT" not in cell.source, (
                f"{path.name}: check with an assert, not a stored output"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_badge_install_cell_and_no_library_code(path):
    notebook = nbformat.read(path, as_version=4)
    assert f"notebooks/{path.name}" in notebook.cells[0].source and "colab-badge" in \
        notebook.cells[0].source
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    assert 'find_spec("fgssl") is None' in code[0] and "google.colab" in code[0]
    for source in code:
        python = "\n".join(line for line in source.splitlines()
                           if not line.lstrip().startswith(("%", "!")))
        # an exercise cell defines the function the student writes (and nothing else)
        allowed = ast.FunctionDef if BEGIN in source else ()
        for node in ast.walk(ast.parse(python)):
            assert not isinstance(node, ast.FunctionDef | ast.ClassDef | ast.Lambda) \
                or isinstance(node, allowed), (
                f"{path.name} defines {getattr(node, 'name', 'a lambda')}: "
                "reusable code belongs in fgssl/"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_exercise_is_checked_in_the_cell_that_defines_it(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code" and BEGIN in cell.source:
            defined = [node.name for node in ast.parse(cell.source).body
                       if isinstance(node, ast.FunctionDef)]
            for name in defined:
                assert re.search(rf"\bcheck_\w+\((?:\d+, )?{name}\)", cell.source), (
                    f"{path.name}: exercise {name} is never checked")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_that_train_ask_colab_for_a_gpu_and_offer_drive(path):
    notebook = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    if "load_or_train(" not in code and "bench(" not in code:
        return
    assert notebook.metadata.get("accelerator") == "GPU", f"{path.name}: request a GPU"
    assert "KEEP_RUNS_IN_DRIVE = False" in code and "keep_runs_in_drive()" in code, (
        f"{path.name}: offer to keep runs/ in Google Drive")
    assert "device_hint(" in code or "No GPU here" in code, f"{path.name}: say what the device is"


def _listed(text: str) -> list[str]:
    """The notebooks a Markdown table lists, in its order (rows starting | `NN_name` |)."""
    return re.findall(r"^\| `(\d\d_\w+)` \|", text, flags=re.MULTILINE)


def test_readme_notebook_00_and_the_instructors_guide_list_the_course_in_number_order():
    names = [p.stem for p in NOTEBOOKS]
    start_here = nbformat.read(ROOT / "notebooks" / "00_start_here.ipynb", as_version=4)
    assert _listed("\n".join(c.source for c in start_here.cells)) == names
    assert _listed((ROOT / "README.md").read_text()) == names
    guide = (ROOT / "docs" / "INSTRUCTORS.md").read_text()
    times = guide.split("## Time per notebook")[1].split("\n## ")[0]
    assert _listed(times) == names
    exercises = _listed(guide.split("## Time per notebook")[0])
    assert exercises == sorted(exercises) and set(exercises) <= set(names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_opens_with_outcomes_and_sums_up_before_its_prompts(path):
    cells = [c.source for c in nbformat.read(path, as_version=4).cells]
    assert "**By the end you can**" in cells[0], f"{path.name}: open with the outcomes"
    text = "\n".join(cells)
    assert "## Summary" in text, f"{path.name}: end with a summary"
    if "## Try this" in text:
        assert text.index("## Summary") < text.index("## Try this"), (
            f"{path.name}: the summary comes before 'Try this'")
