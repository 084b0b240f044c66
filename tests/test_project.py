"""README, Makefile, pyproject.toml, environment.yml and .ci/run must tell the same story."""

import re
import subprocess
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch"}  # pip name -> conda-forge name where they differ


def _requirement_name(spec: str) -> str:
    return re.split(r"[<>=!~\[ ;]", spec.strip(), maxsplit=1)[0].lower()


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_has_the_same_dependencies_and_bounds_as_pyproject():
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    wanted = project["dependencies"] + extras["dev"] + extras["lab"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    conda = {_requirement_name(d): d.replace(" ", "") for d in env["dependencies"]
             if isinstance(d, str)}
    for spec in wanted:
        name = _requirement_name(spec)
        conda_name = CONDA_NAMES.get(name, name)
        assert conda_name in conda, f"environment.yml lacks {conda_name}"
        bound = spec[len(name):]
        assert conda[conda_name] == conda_name + bound, (conda[conda_name], spec)
    extra = set(conda) - {CONDA_NAMES.get(_requirement_name(s), _requirement_name(s))
                          for s in wanted} - {"python", "pip"}
    assert not extra, f"environment.yml has dependencies pyproject lacks: {extra}"
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_section


def test_dependencies_have_lower_bounds_and_no_upper_caps():
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    for spec in project["dependencies"] + extras["dev"] + extras["lab"]:
        assert ">=" in spec and "<" not in spec and "==" not in spec, spec


def test_readme_commands_are_the_makefile_targets_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for command, target in (("make demo", "demo"), ("make test", "test")):
        assert f"\n{command}" in readme, f"README lacks `{command}`"
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile lacks target {target}"
    assert re.search(r"^demo:.*\n\t\$\(VENV\)/bin/fgssl demo$", makefile, re.M)
    test_recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "FGSSL_PROFILE=ci" in test_recipe and "--nbval-lax" in test_recipe
    assert "tests notebooks" in test_recipe
    install = 'pip install -e ".[dev,lab]"'
    assert install in makefile and install in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_is_read_in_five_minutes():
    words = len((ROOT / "README.md").read_text().split())  # as `wc -w` counts them
    assert words <= 1800, f"README.md has {words} words: move the detail past 1,800 to docs/"


def test_console_script_and_package_name():
    project = _pyproject()["project"]
    assert project["name"] == "fgssl"
    assert project["scripts"]["fgssl"] == "fgssl.cli:main"
    assert (ROOT / "fgssl" / "__main__.py").is_file()


def test_gitignore_keeps_data_and_runs_out_of_the_repository():
    ignored = (ROOT / ".gitignore").read_text().split()
    for pattern in ("data/*", "!data/README.md", "runs/", ".venv/"):
        assert pattern in ignored


def test_every_test_the_reliability_table_cites_exists():
    text = (ROOT / "docs" / "RELIABILITY.md").read_text()
    cited, module = [], None
    for match in re.finditer(r"`(tests/[\w/]+\.py)?::(test_\w+)`", text):
        module = match.group(1) or module  # "::name" alone: the module cited before it
        cited.append((module, match.group(2)))
    assert len(cited) >= 20
    missing = [f"{module}::{name}" for module, name in cited
               if f"def {name}(" not in (ROOT / module).read_text()]
    assert missing == []


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    suffixes = {".md", ".py", ".ipynb", ".sh", ".toml", ".yml"}
    return [ROOT / name for name in listed.splitlines()
            if Path(name).suffix in suffixes and (ROOT / name).is_file()]


KIT_FILE = r"(?<![\w/.])((?:docs|benchmarks|tools|data)/[\w./-]+\.\w+)"  # named from the root


def test_no_file_refers_to_a_file_that_is_not_in_the_repository():
    missing = []
    for path in _tracked_text_files():
        text = path.read_text(errors="ignore")
        if path.suffix == ".md":  # relative Markdown links, from the file's folder
            for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
                if "://" not in target and not (path.parent / target).exists():
                    missing.append(f"{path.relative_to(ROOT)} -> {target}")
        for target in set(re.findall(KIT_FILE, text)):
            if not (ROOT / target).exists():
                missing.append(f"{path.relative_to(ROOT)} -> {target}")
    assert not missing, missing
