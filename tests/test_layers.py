"""The package is layered: each module imports only from its own layer and the ones below.
The layers are the table in docs/ARCHITECTURE.md, read here, so the page and the check cannot
drift apart; every module must be placed there (a new one fails until it is). Imports are
read from the source (at module level or inside a function), so a lazy import that runs up
the layers fails too, and so does an import cycle, between packages or between modules.
Files a reader holds in one sitting: at most 300 lines (or a line that says why more), and no
function over 60."""

import ast
import graphlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from fgssl import source
from fgssl.source import PACKAGE

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
TABLE_HEADER = "| layer | modules | what lives there |"


def _layer_table(page: str) -> list[tuple[str, str]]:
    """(layer, its modules cell) for each row of the page's layer table, top layer first."""
    lines = page[page.index(TABLE_HEADER):].splitlines()[2:]
    rows = [line.split("|")[1:3] for line in lines[:next(
        (i for i, line in enumerate(lines) if not line.startswith("|")), len(lines))]]
    return [(layer.strip(), modules) for layer, modules in rows]


def _placements(page: str) -> list[tuple[str, set[str], set[str]]]:
    """The layers, lowest first: (name, the packages placed in it, the modules placed in it).
    In a modules cell `name/` places the package ``fgssl.name`` (every module under it),
    `name` the module ``fgssl.name`` and "the package root" ``fgssl``; what is in parentheses
    describes a package's modules and places nothing (:func:`_described`)."""
    layers = []
    for layer, cell in reversed(_layer_table(page)):
        placed = re.findall(r"`([\w/]+)`", re.sub(r"\([^)]*\)", "", cell))
        modules = {f"fgssl.{name}" for name in placed if not name.endswith("/")}
        if "the package root" in cell:
            modules.add("fgssl")
        layers.append((layer, {f"fgssl.{name[:-1]}" for name in placed if name.endswith("/")},
                       modules))
    return layers


def _described(page: str) -> list[str]:
    """The modules a cell names in parentheses after a package, e.g. `study/` (`runs`, ...),
    as ``fgssl.study.runs``."""
    names = []
    for _, cell in _layer_table(page):
        for package, inside in re.findall(r"`(\w+)/`\s*\(([^)]*)\)", cell):
            names += [f"fgssl.{package}" if name == "__init__" else f"fgssl.{package}.{name}"
                      for name in re.findall(r"`(\w+)`", inside)]
    return names


LAYERS = _placements(ARCHITECTURE.read_text())


def _layer(module: str) -> int | None:
    """The index of the layer that places ``module``, itself or by its package (the deepest
    package that does); None if none does."""
    matches = [(len(package), index) for index, (_, packages, modules) in enumerate(LAYERS)
               for package in packages if module == package or module.startswith(package + ".")]
    matches += [(len(module), index) for index, (_, _, modules) in enumerate(LAYERS)
                if module in modules]
    return max(matches)[1] if matches else None


def _unplaced(package: Path) -> list[str]:
    return [module for module in source.modules(package) if _layer(module) is None]


def test_every_module_is_placed_in_a_layer():
    assert not _unplaced(PACKAGE), "place these in the layer table of docs/ARCHITECTURE.md"


def test_a_new_module_outside_the_layers_packages_is_not_placed_by_the_package_root(tmp_path):
    package = tmp_path / "fgssl"
    (package / "methods").mkdir(parents=True)
    for module in ("__init__", "config", "brand_new_module", "methods/__init__", "methods/rot"):
        (package / f"{module}.py").write_text("")
    assert _unplaced(package) == ["fgssl.brand_new_module"]


def test_the_layer_table_names_only_modules_that_exist():
    modules = source.modules()
    placed = {name for _, packages, names in LAYERS for name in packages | names}
    assert sorted(placed - set(modules)) == []
    assert sorted(set(_described(ARCHITECTURE.read_text())) - set(modules)) == []
    assert [name for name, _, _ in LAYERS][:2] == ["core", "data, models, augmentations"]


def _upward_imports(package: Path) -> list[str]:
    modules = source.modules(package)
    upward = []
    for module, path in modules.items():
        for imported in source.imports(path, set(modules)):
            if None in (_layer(module), _layer(imported)):
                continue  # unplaced: test_every_module_is_placed_in_a_layer says so
            if _layer(imported) > _layer(module):
                upward.append(f"{module} ({LAYERS[_layer(module)][0]}) imports {imported} "
                              f"({LAYERS[_layer(imported)][0]})")
    return upward


def test_no_import_runs_up_the_layers():
    upward = _upward_imports(PACKAGE)
    assert not upward, "\n".join(upward)


def test_the_check_finds_an_import_up_the_layers_even_inside_a_function(tmp_path):
    package = tmp_path / "fgssl"
    (package / "methods").mkdir(parents=True)
    (package / "evaluate").mkdir()
    for init in (package, package / "methods", package / "evaluate"):
        (init / "__init__.py").write_text("")
    (package / "evaluate" / "features.py").write_text("from fgssl.methods import pmg\n")
    (package / "methods" / "pmg.py").write_text(
        "def predict():\n    from fgssl.evaluate.features import extract_features\n")
    assert _upward_imports(package) == [
        "fgssl.methods.pmg (methods) imports fgssl.evaluate.features (evaluate)"]


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _cycle(package: Path, node: Callable[[str], str] = str) -> list[str]:
    """An import cycle among the modules of ``package`` (or, with ``node=_package``, among
    its subpackages; the root ``fgssl`` apart, which re-exports): [] if there is none."""
    modules = source.modules(package)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        for imported in source.imports(path, set(modules)):
            if imported != "fgssl" and node(imported) != node(module):
                graph.setdefault(node(module), set()).add(node(imported))
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        return error.args[1]
    return []


@pytest.mark.parametrize("node", [str, _package], ids=["modules", "packages"])
def test_no_import_cycle(node):
    assert _cycle(PACKAGE, node) == []


def test_the_check_finds_a_cycle_through_a_lazy_import(tmp_path):
    package = tmp_path / "fgssl"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "data" / "__init__.py").write_text("")
    (package / "data" / "catalog.py").write_text("from fgssl.data.cub import CUB\n")
    (package / "data" / "cub.py").write_text(
        "def images():\n    from fgssl.data import catalog\n")
    assert sorted(set(_cycle(package))) == ["fgssl.data.catalog", "fgssl.data.cub"]
    assert _cycle(package, _package) == []


MAX_LINES, MAX_FUNCTION_LINES, REASON = 300, 60, "# Over 300 lines: "


def _too_long(package: Path) -> list[str]:
    """Files over MAX_LINES without a line giving the reason, and functions over
    MAX_FUNCTION_LINES."""
    found = []
    for module, path in source.modules(package).items():
        text = path.read_text()
        if len(text.splitlines()) > MAX_LINES and REASON not in text:
            found.append(f"{module}: {len(text.splitlines())} lines and no '{REASON}...' line")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                    node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                found.append(f"{module}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    return found


def test_files_and_functions_a_reader_holds_in_one_sitting(tmp_path):
    assert _too_long(PACKAGE) == []
    package = tmp_path / "fgssl"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "long.py").write_text("x = 1\n" * 301)
    (package / "reasoned.py").write_text(f"{REASON}a catalogue.\n" + "x = 1\n" * 301)
    (package / "step.py").write_text("def step():\n" + "    x = 1\n" * 60)
    assert _too_long(package) == ["fgssl.long: 301 lines and no '# Over 300 lines: ...' line",
                                  "fgssl.step.step: 61 lines"]
