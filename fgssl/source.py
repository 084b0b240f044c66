"""The kit's own source read as data: its modules, what each imports, and what a module
depends on.

Read from the files with :mod:`ast` (every ``import``, at module level or inside a function),
never by importing them. The evaluation cache hashes the files an evaluation depends on
(:func:`dependencies`), and the layer test checks every import against the layers.

Example::

    >>> sorted(dependencies(["fgssl.files"]))     # the package root imports config
    ['fgssl', 'fgssl.config', 'fgssl.files']
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent  # fgssl's own folder


def module_name(path: Path, package: Path = PACKAGE) -> str:
    """``<package>/methods/dino.py`` -> ``fgssl.methods.dino`` (a package's ``__init__.py``
    is the package)."""
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Every module of ``package`` (default: fgssl), by name, with its file."""
    return {module_name(path, package): path for path in sorted(package.rglob("*.py"))}


def _nodes(tree: ast.AST, inside_functions: bool) -> Iterator[ast.AST]:
    """Every node of ``tree``, or those that run when the module is imported (not the bodies
    of its functions)."""
    for child in ast.iter_child_nodes(tree):
        yield child
        if inside_functions or not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _nodes(child, inside_functions)


def imports(path: Path, known: Iterable[str], inside_functions: bool = True) -> set[str]:
    """The package's modules the file at ``path`` imports, among ``known`` (``from fgssl
    import distributed`` names the module ``fgssl.distributed``; ``from fgssl.files import
    read_json`` the module ``fgssl.files``), and those it names to import later as
    ``"module:attribute"`` strings (the method registry's lines); with ``inside_functions``
    false, only what importing the file runs."""
    known, root = set(known), PACKAGE.name
    found = set()
    for node in _nodes(ast.parse(path.read_text()), inside_functions):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == root}
        elif isinstance(node, ast.ImportFrom) and node.module and \
                node.module.split(".")[0] == root:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in known else node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                (named := re.fullmatch(r"([\w.]+):\w+", node.value)) and named[1] in known:
            found.add(named[1])
    return found


def dependencies(roots: Iterable[str], package: Path = PACKAGE) -> dict[str, Path]:
    """``roots`` and every module of ``package`` they import, directly or not, with their
    files; and the packages above each, which Python runs first (what those import is
    followed as far as importing them runs: the package root's lazy ``load_or_train`` is not
    an import of every module)."""
    files, needed = modules(package), {}
    todo = [(module, True) for module in roots]
    while todo:
        module, whole = todo.pop()
        if module not in files or needed.get(module) in (True, whole):
            continue  # not fgssl's, or followed as far already
        needed[module] = whole
        parents = [".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)]
        todo += [(imported, True) for imported in imports(files[module], files, whole)]
        todo += [(parent, False) for parent in parents]
    return {module: files[module] for module in needed}
