from fgssl import source
from fgssl.study import cache


def test_the_evaluation_code_is_what_the_evaluation_imports():
    depended = source.dependencies(cache.EVALUATION)
    for module in ("fgssl.evaluate.probe", "fgssl.data.splits", "fgssl.models.backbones",
                   "fgssl.transforms", "fgssl.viz.cam", "fgssl.methods.supervised",
                   "fgssl.methods.srgan"):  # a method's backbone is what is evaluated
        assert module in depended, module
    assert "fgssl.cli" not in depended and "fgssl.study.demo" not in depended


def test_saved_evaluations_are_keyed_by_the_code_that_computed_them(tmp_path):
    package = tmp_path / "fgssl"
    for folder in ("viz", "study"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "study" / "figures.py").write_text("from fgssl.viz.cam import threshold\n")
    (package / "viz" / "cam.py").write_text("from fgssl import splits\nthreshold = 1\n")
    (package / "splits.py").write_text("fraction = 0.1\n")
    (package / "cli.py").write_text("print('hello')\n")
    before = cache.code_fingerprint(("fgssl.study.figures",), package)
    (package / "cli.py").write_text("print('bye')\n")  # not evaluation code
    assert cache.code_fingerprint(("fgssl.study.figures",), package) == before
    (package / "splits.py").write_text("fraction = 0.2\n")  # imported by what is imported
    assert cache.code_fingerprint(("fgssl.study.figures",), package) != before


def test_a_saved_evaluation_is_read_back_for_its_own_key_only(tmp_path):
    from fgssl.files import atomic_write_json

    path = tmp_path / "simclr.json"
    assert cache.read(path, {"code": "a"}) is None  # nothing saved
    atomic_write_json({"key": {"code": "a"}, "results": [1]}, path)
    assert cache.read(path, {"code": "a"})["results"] == [1]
    assert cache.read(path, {"code": "b"}) is None
