import json
import os
import shutil
import subprocess
import sys

import pytest

from fgssl.cli import facts as facts_module
from fgssl.cli.facts import FILE_NAME, derive, load, source_key
from fgssl.methods import registry
from fgssl.methods.about import Option
from fgssl.methods.base import Method

HEAVY = ("torch", "torchvision", "kornia", "sklearn")


def _run_without_heavy_imports(code: str, cache: str) -> subprocess.CompletedProcess:
    probe = (f"import sys\n{code}\n"
             f"print('heavy:', sorted(m for m in {HEAVY!r} if m in sys.modules))")
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=os.environ | {"XDG_CACHE_HOME": cache}, check=False)


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """A cache folder whose facts the first command line derived (importing torch)."""
    cache = str(tmp_path_factory.mktemp("xdg-cache"))
    first = _run_without_heavy_imports("from fgssl.cli.facts import load\nload()", cache)
    assert "heavy: ['kornia', 'sklearn', 'torch', 'torchvision']" in first.stdout, first.stderr
    return cache


@pytest.mark.parametrize("argv", [["--help"], ["pretrain", "--help"], ["demo", "--help"],
                                  ["evaluate", "random"], ["pretrian"],
                                  ["pretrain", "jigsaw", "--data", "synthbirds", "--grid", "5"]],
                         ids=["help", "pretrain-help", "demo-help", "missing-flag", "typo",
                              "bad-option"])
def test_help_and_mistakes_import_no_torch(argv, warm_cache):
    code = (f"from fgssl.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n"
            "    pass")
    done = _run_without_heavy_imports(code, warm_cache)
    assert "heavy: []" in done.stdout, done.stdout + done.stderr


def test_the_facts_read_back_are_the_facts_derived(tmp_path):
    derived = load(tmp_path)
    assert json.loads(json.dumps(derived)) == json.loads(json.dumps(derive()))
    saved = json.loads((tmp_path / FILE_NAME).read_text())
    assert saved["key"] == source_key() and load(tmp_path) == derived
    assert [m["name"] for m in derived["methods"]] == ["simclr", "jigsaw", "srgan", "byol",
                                                       "vicreg", "dino", "supervised", "pmg"]
    grid = next(o for o in derived["methods"][1]["options"] if o["name"] == "grid")
    assert grid == {"name": "grid", "flag": "--grid", "help": "tiles per side (default 3)",
                    "type": "int", "default": 3, "choices": [2, 3, 4], "minimum": None,
                    "maximum": None}


def test_a_change_to_any_source_file_derives_the_facts_again(tmp_path, monkeypatch):
    copy = tmp_path / "fgssl"
    shutil.copytree(facts_module.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(facts_module, "PACKAGE", copy)
    before = source_key()
    (copy / "viz" / "cam.py").write_text((copy / "viz" / "cam.py").read_text() + "\n")
    assert source_key() != before
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / FILE_NAME).write_text(json.dumps({"key": before, "facts": {}}))
    assert load(tmp_path / "cache")["datasets"][0] == "synthbirds"  # stale: derived again


def test_no_writable_cache_still_answers(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert load(blocked)["protocols"] == ["linear", "knn", "finetune"]


def test_a_method_registered_at_run_time_is_described_live(tmp_path):
    class Extra(Method):
        """An extra method."""

        name = "extra"
        options = (Option("depth", "how deep", minimum=1),)

        def __init__(self, depth: int = 2) -> None:
            super().__init__(None)

    registry.register(Extra)
    try:
        described = load(tmp_path)["methods"][-1]
    finally:
        registry.unregister(Extra)
    assert described["name"] == "extra" and described["summary"] == "An extra method."
    assert described["options"][0]["type"] == "int" and described["options"][0]["minimum"] == 1
    assert load(tmp_path)["methods"][-1]["name"] == "pmg"  # and gone when unregistered
