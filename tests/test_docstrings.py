"""The public API's docstrings are in one form: what the package exports and what the notebooks
import from it say what they do, then ``Args:`` for whatever they take."""

import ast
import importlib
import inspect
import json
from pathlib import Path

import fgssl

ROOT = Path(__file__).resolve().parents[1]


def _imported_from_fgssl(source: str) -> set[tuple[str, str]]:
    """(module, name) of every ``from fgssl... import name`` in ``source``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fgssl"):
            found.update((node.module, alias.name) for alias in node.names)
    return found


def _public_api() -> dict[str, object]:
    """Every function and class a notebook imports from fgssl, and the package's exports."""
    names = {("fgssl", name) for name in fgssl.__all__ if name != "__version__"}
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                code = "\n".join(line for line in "".join(cell["source"]).splitlines()
                                 if not line.lstrip().startswith(("%", "!")))
                names |= _imported_from_fgssl(code)
    api = {}
    for module, name in names:
        thing = getattr(importlib.import_module(module), name)
        if inspect.isfunction(thing) or inspect.isclass(thing):
            api[f"{module}.{name}"] = thing
    return api


def _parameters(thing: object) -> list[str]:
    return [name for name in inspect.signature(thing).parameters if name != "self"]


def test_the_notebooks_use_a_public_api():
    api = _public_api()
    assert len(api) > 50  # the parse found the notebooks' imports
    assert "fgssl.study.runs.load_or_train" in api and "fgssl.load_or_train" in api


def test_every_public_function_and_class_documents_its_arguments():
    undocumented = [name for name, thing in sorted(_public_api().items())
                    if _parameters(thing) and "Args:" not in (inspect.getdoc(thing) or "")]
    assert not undocumented, f"docstrings without an Args: section: {undocumented}"


def test_what_the_args_section_names_is_a_parameter():
    wrong = []
    for name, thing in sorted(_public_api().items()):
        doc, parameters = inspect.getdoc(thing) or "", set(_parameters(thing))
        if "Args:" not in doc:
            continue
        section = doc.split("Args:", 1)[1].split("\n\n", 1)[0]
        for line in section.splitlines()[1:]:
            if line.startswith("    ") and not line.startswith("     ") and ":" in line:
                for argument in line.strip().split(":", 1)[0].split(", "):  # "a, b: ..."
                    if argument.lstrip("*") not in parameters:
                        wrong.append(f"{name}: {argument}")
    assert not wrong, f"Args: entries that are no parameter: {wrong}"
