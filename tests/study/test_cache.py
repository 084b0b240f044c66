from fgssl.study import cache


def test_every_pattern_of_the_evaluation_code_names_real_files():
    for pattern in cache.EVALUATION_CODE:
        assert list(cache.PACKAGE.glob(pattern)), pattern


def test_saved_evaluations_are_keyed_by_the_code_that_computed_them(tmp_path):
    (tmp_path / "viz").mkdir()
    (tmp_path / "viz" / "cam.py").write_text("threshold = 1\n")
    (tmp_path / "cli.py").write_text("print('hello')\n")
    before = cache.code_fingerprint(("viz/cam.py",), tmp_path)
    (tmp_path / "cli.py").write_text("print('bye')\n")  # not evaluation code
    assert cache.code_fingerprint(("viz/cam.py",), tmp_path) == before
    (tmp_path / "viz" / "cam.py").write_text("threshold = 2\n")
    assert cache.code_fingerprint(("viz/cam.py",), tmp_path) != before


def test_a_saved_evaluation_is_read_back_for_its_own_key_only(tmp_path):
    from fgssl.files import atomic_write_json

    path = tmp_path / "simclr.json"
    assert cache.read(path, {"code": "a"}) is None  # nothing saved
    atomic_write_json({"key": {"code": "a"}, "results": [1]}, path)
    assert cache.read(path, {"code": "a"})["results"] == [1]
    assert cache.read(path, {"code": "b"}) is None
