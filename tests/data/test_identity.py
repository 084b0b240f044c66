import hashlib

from fgssl.data.folders import Record
from fgssl.data.identity import content_fingerprint, location_key
from tests.images import write_jpeg


def test_unchanged_files_are_not_read_again_and_a_changed_one_is(tmp_path, monkeypatch):
    for k in range(3):
        write_jpeg(tmp_path / "data" / f"{k}.jpg", seed=k)
    splits = {"all": [Record(f"{k}.jpg", k % 2) for k in range(3)]}
    memo = tmp_path / "memo.json"
    first = content_fingerprint(tmp_path / "data", splits, memo)
    read = []
    real = hashlib.file_digest
    monkeypatch.setattr(hashlib, "file_digest", lambda file, *a: read.append(file.name)
                        or real(file, *a))
    assert content_fingerprint(tmp_path / "data", splits, memo) == first and read == []
    write_jpeg(tmp_path / "data" / "1.jpg", seed=9)
    changed = content_fingerprint(tmp_path / "data", splits, memo)
    assert changed != first and [p.split("/")[-1] for p in read] == ["1.jpg"]
    relabelled = {"all": [Record(f"{k}.jpg", 0) for k in range(3)]}
    assert content_fingerprint(tmp_path / "data", relabelled, memo) != changed  # labels count


def test_a_location_key_names_the_folder_readably_and_by_its_path(tmp_path):
    (tmp_path / "a" / "leaves").mkdir(parents=True)
    (tmp_path / "b" / "leaves").mkdir(parents=True)
    keys = {location_key("folder", tmp_path / x / "leaves") for x in ("a", "b")}
    assert len(keys) == 2 and all(k.startswith("folder-leaves-") for k in keys)
    (tmp_path / "cub200").mkdir()
    assert location_key("cub200", tmp_path / "cub200").count("cub200") == 1
