"""The package is layered: each module imports only from its own layer and the ones below
(docs/ARCHITECTURE.md draws them). Read from the source (every import, at module level or
inside a function), so a lazy import that runs up the layers fails too."""

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "fgssl"
LAYERS = (  # lowest first: (name, the modules and packages in it)
    ("core", ("fgssl.config", "fgssl.files", "fgssl.utils", "fgssl.workers",
              "fgssl.distributed", "fgssl.colab")),
    ("data, models, augmentations", ("fgssl.data", "fgssl.models", "fgssl.transforms",
                                     "fgssl.gpu_augment", "fgssl.image_quality")),
    ("methods", ("fgssl.methods",)),
    ("train", ("fgssl.train", "fgssl.optimisation")),
    ("evaluate", ("fgssl.evaluate",)),
    ("viz", ("fgssl.viz",)),
    ("study", ("fgssl.study",)),
    ("exercises", ("fgssl.exercises",)),
    ("command line", ("fgssl.cli", "fgssl.__main__", "fgssl")),
)


def _module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(package: Path = PACKAGE) -> dict[str, Path]:
    return {_module_name(path, package): path for path in sorted(package.rglob("*.py"))}


def _imports(path: Path, known: set[str]) -> set[str]:
    """The fgssl modules a file imports (``from fgssl import distributed`` names the module
    ``fgssl.distributed``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "fgssl"}
        elif isinstance(node, ast.ImportFrom) and node.module and \
                node.module.split(".")[0] == "fgssl":
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in known else node.module)
    return found


def _layer(module: str) -> int:
    """The index of the layer holding ``module`` (the longest matching prefix)."""
    matches = [(len(member), index) for index, (_, members) in enumerate(LAYERS)
               for member in members if module == member or module.startswith(member + ".")]
    assert matches, f"{module} is in no layer: add it to LAYERS and the docs"
    return max(matches)[1]


def test_every_module_is_in_a_layer():
    for module in _modules():
        _layer(module)


def _upward_imports(package: Path) -> list[str]:
    modules = _modules(package)
    upward = []
    for module, path in modules.items():
        for imported in _imports(path, set(modules)):
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


def test_no_import_cycle_between_packages():
    modules = _modules()
    edges = defaultdict(set)
    for module, path in modules.items():
        for imported in _imports(path, set(modules)):
            if _package(imported) != _package(module) and imported != "fgssl":
                edges[_package(module)].add(_package(imported))

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for step in edges[start]:
            if step == goal or (step not in seen and reaches(step, goal, seen | {step})):
                return True
        return False

    cycles = sorted(package for package in list(edges) if reaches(package, package, set()))
    assert not cycles, f"packages in an import cycle: {cycles}"
