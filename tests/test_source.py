from fgssl import source


def _package(tmp_path, files: dict[str, str]):
    package = tmp_path / "fgssl"
    for name, text in {"__init__": "", **files}.items():
        path = package / f"{name}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


def test_imports_at_module_level_inside_a_function_and_by_registration(tmp_path):
    package = _package(tmp_path, {
        "methods/__init__": "", "methods/simclr": "", "files": "",
        "methods/registry": "from fgssl import files\nBUILT_IN = ('fgssl.methods.simclr:SimCLR',"
                            " 'not a module: words')\n"
                            "def later():\n    import fgssl.methods\n    import torch\n"})
    known = source.modules(package)
    assert sorted(known) == ["fgssl", "fgssl.files", "fgssl.methods", "fgssl.methods.registry",
                             "fgssl.methods.simclr"]
    assert source.imports(known["fgssl.methods.registry"], known) == {
        "fgssl.files", "fgssl.methods.simclr", "fgssl.methods"}


def test_dependencies_follow_imports_and_run_the_packages_above(tmp_path):
    package = _package(tmp_path, {
        "evaluate/__init__": "", "evaluate/probe": "from fgssl.data.splits import subset\n",
        "data/__init__": "", "data/splits": "from fgssl import config\n", "config": "",
        "cli": "from fgssl.evaluate import probe\n"})
    assert sorted(source.dependencies(["fgssl.evaluate.probe"], package)) == [
        "fgssl", "fgssl.config", "fgssl.data", "fgssl.data.splits", "fgssl.evaluate",
        "fgssl.evaluate.probe"]


def test_the_kit_itself_is_read():
    assert source.modules()["fgssl.source"] == source.PACKAGE / "source.py"
    assert "fgssl.files" in source.dependencies(["fgssl.study.cache"])
