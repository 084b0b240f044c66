"""The notebooks' Colab install cell leaves Colab's own packages alone.

``colab_preinstalled.txt`` is ``pip freeze`` of Colab's GPU runtime as Google publishes it. The
test makes an empty virtual environment in which exactly those packages appear installed
(their metadata only: nothing is downloaded), asks pip what installing fgssl's dependencies
there would do (``pip install --dry-run --report``, those versions as constraints), and fails
if pip would install any preinstalled package again, upgrade it or downgrade it. Resolving
the packages Colab lacks (kornia) needs the package index; without it the test is skipped.
"""

import ast
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
PREINSTALLED = Path(__file__).with_name("colab_preinstalled.txt")
OFFLINE = ("NewConnectionError", "Temporary failure in name resolution", "Network is unreachable",
           "Failed to establish a new connection", "Max retries exceeded")
INSTALL_LINE = re.compile(r"%pip install -q (.+)$", re.M)
_spec = importlib.util.spec_from_file_location("source_url", ROOT / "tools" / "source_url.py")
source_url = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(source_url)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _preinstalled() -> dict[str, str]:
    pins = [line.split("==") for line in PREINSTALLED.read_text().splitlines()
            if line and not line.startswith("#")]
    return {_canonical(name): version for name, version in pins}


def _core_dependencies() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


@pytest.fixture(scope="module")
def colab(tmp_path_factory) -> Path:
    """A virtual environment whose site-packages lists Colab's packages as installed."""
    folder = tmp_path_factory.mktemp("colab")
    venv.EnvBuilder(with_pip=False).create(folder / "env")
    python = folder / "env" / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], capture_output=True, text=True, check=True
                               ).stdout.strip())
    for name, version in _preinstalled().items():
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return python


def _pip_dry_run(python: Path, requirements: list[str], report: Path | None = None
                 ) -> subprocess.CompletedProcess:
    """``pip install --dry-run`` of ``requirements`` in that environment, Colab's versions as
    constraints; skipped when the package index cannot be reached."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--dry-run",
         "--quiet", "-c", str(PREINSTALLED), *(["--report", str(report)] if report else []),
         *requirements], capture_output=True, text=True)
    if done.returncode != 0 and any(marker in done.stderr for marker in OFFLINE):
        pytest.skip("the package index cannot be reached: cannot resolve kornia")
    return done


def test_installing_fgssl_on_colab_changes_no_preinstalled_package(colab, tmp_path):
    done = _pip_dry_run(colab, _core_dependencies(), tmp_path / "report.json")
    assert done.returncode == 0, ("pip cannot install fgssl's dependencies beside Colab's "
                                  f"packages without changing them:\n{done.stderr[-3000:]}")
    planned = {_canonical(item["metadata"]["name"]) for item in
               json.loads((tmp_path / "report.json").read_text())["install"]}
    assert "kornia" in planned  # the one dependency Colab lacks: pip did resolve
    assert not planned & set(_preinstalled()), planned


def test_the_check_sees_a_dependency_that_would_upgrade_colab(colab):
    done = _pip_dry_run(colab, [f"tqdm>{_preinstalled()['tqdm']}"])
    assert done.returncode != 0 and "tqdm" in done.stderr  # the constraint holds tqdm back


IMPORT_NAMES = {"scikit-learn": "sklearn", "pillow": "PIL", "umap-learn": "umap",
                "ipython": "IPython"}  # distribution -> the module it provides, where they differ
ONLY_ON_COLAB = {"google"}  # google.colab, imported where it exists


def _imported_modules() -> set[str]:
    found = set()
    for path in (ROOT / "fgssl").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"fgssl", "__future__"}


def test_the_core_dependencies_are_what_fgssl_imports_and_jupyter_is_an_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_canonical(re.split(r"[<>=!~\[ ;]", spec, maxsplit=1)[0])
             for spec in project["dependencies"]}
    assert {IMPORT_NAMES.get(name, name) for name in names} == _imported_modules() - ONLY_ON_COLAB
    assert "jupyterlab" in " ".join(project["optional-dependencies"]["lab"])


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("**/*.ipynb")),
                         ids=lambda path: path.name)
def test_the_install_cell_asks_for_fgssl_alone(path):
    """No extra, and never torch, torchvision or ipywidgets: Colab's own builds stay."""
    cells = nbformat.read(path, as_version=4).cells
    lines = [match for cell in cells if cell.cell_type == "code"
             for match in INSTALL_LINE.findall(cell.source)]
    assert lines == [f'"fgssl @ git+{source_url.source_url()}"'], lines


def test_every_notebook_takes_the_kit_s_address_from_pyproject():
    assert source_url.disagreeing() == [], "run python tools/source_url.py"


def test_a_fork_changes_the_address_in_one_place(tmp_path):
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    manifest = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(manifest.replace(
        source_url.source_url(), "https://github.com/a-course/fgssl-2027"))
    path = tmp_path / "notebooks" / "student" / "05_simclr.ipynb"
    assert path in source_url.disagreeing(tmp_path)
    text = "\n".join(cell.source for cell in source_url.rewritten(path, tmp_path).cells)
    assert '%pip install -q "fgssl @ git+https://github.com/a-course/fgssl-2027"' in text
    assert ("https://colab.research.google.com/github/a-course/fgssl-2027/blob/main/"
            "notebooks/student/05_simclr.ipynb") in text
    (tmp_path / "pyproject.toml").write_text(manifest.replace(source_url.source_url(),
                                                              "https://gitlab.com/x/y"))
    with pytest.raises(SystemExit, match="GitHub"):
        source_url.rewritten(path, tmp_path)
