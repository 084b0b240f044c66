import hashlib
import io
import tarfile
import zipfile

import pytest

from fgssl.data.download import (
    ChecksumError,
    UnsafeArchiveError,
    download,
    file_digest,
    safe_extract,
)
from tests.servers import serve

PAYLOAD = bytes(range(256)) * 4000  # ~1 MB


@pytest.fixture()
def served(tmp_path):
    folder = tmp_path / "server"
    folder.mkdir()
    (folder / "file.bin").write_bytes(PAYLOAD)
    with serve(folder) as url:
        yield url


def test_download_verifies_md5_and_sha256(served, tmp_path):
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    path = download(served + "file.bin", tmp_path / "out" / "file.bin", md5=md5, sha256=sha)
    assert path.read_bytes() == PAYLOAD
    assert file_digest(path, "sha256") == sha
    assert not (tmp_path / "out" / "file.bin.part").exists()


def test_download_resumes_a_partial_file(served, tmp_path):
    dest = tmp_path / "file.bin"
    (tmp_path / "file.bin.part").write_bytes(PAYLOAD[:300_000])
    download(served + "file.bin", dest, md5=hashlib.md5(PAYLOAD).hexdigest())
    assert dest.read_bytes() == PAYLOAD


def test_wrong_checksum_deletes_the_file_and_says_so(served, tmp_path):
    dest = tmp_path / "file.bin"
    with pytest.raises(ChecksumError, match=r"md5 mismatch.*deleted it"):
        download(served + "file.bin", dest, md5="0" * 32)
    assert not dest.exists() and not (tmp_path / "file.bin.part").exists()


def test_existing_file_is_checked_not_refetched(tmp_path):
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"not the payload")
    with pytest.raises(ChecksumError):
        download("http://127.0.0.1:9/never", dest, md5=hashlib.md5(PAYLOAD).hexdigest())


def test_unreachable_server_is_a_clear_error(tmp_path):
    with pytest.raises(ConnectionError, match=r"cannot download.*by hand"):
        download("http://127.0.0.1:9/file.bin", tmp_path / "file.bin", timeout=2)


def _tar(tmp_path, add) -> str:
    path = tmp_path / "archive.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        add(archive)
    return path


def _member(archive, name, data=b"x", **fields):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    archive.addfile(info, io.BytesIO(data) if info.isfile() else None)


def test_safe_extract_extracts_a_normal_archive(tmp_path):
    def add(archive):
        _member(archive, "top/a.txt", b"hello")
        _member(archive, "top/inner", type=tarfile.SYMTYPE, linkname="a.txt", size=0)

    out = safe_extract(_tar(tmp_path, add), tmp_path / "out")
    assert (out / "top" / "a.txt").read_bytes() == b"hello"
    assert (out / "top" / "inner").read_bytes() == b"hello"


@pytest.mark.parametrize("name, fields, message", [
    ("/etc/evil", {}, "unsafe path"),
    ("../evil", {}, "unsafe path"),
    ("top/../../evil", {}, "unsafe path"),
    ("top/link", {"type": tarfile.SYMTYPE, "linkname": "../../outside", "size": 0},
     "points outside"),
    ("top/abs", {"type": tarfile.SYMTYPE, "linkname": "/etc/passwd", "size": 0}, "points outside"),
    ("top/hard", {"type": tarfile.LNKTYPE, "linkname": "../x", "size": 0}, "points outside"),
    ("top/dev", {"type": tarfile.CHRTYPE, "size": 0}, "device"),
])
def test_safe_extract_rejects_escaping_members(tmp_path, name, fields, message):
    def add(archive):
        _member(archive, "top/fine.txt")
        _member(archive, name, **fields)

    with pytest.raises(UnsafeArchiveError, match=message):
        safe_extract(_tar(tmp_path, add), tmp_path / "out")
    assert not (tmp_path / "out" / "top" / "fine.txt").exists()  # nothing half-extracted
    assert not (tmp_path / "evil").exists()


def test_safe_extract_checks_zip_members(tmp_path):
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    with zipfile.ZipFile(good, "w") as archive:
        archive.writestr("folder/a.txt", "a")
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("folder/a.txt", "a")
        archive.writestr("../../escape.txt", "x")
    assert (safe_extract(good, tmp_path / "g") / "folder" / "a.txt").read_text() == "a"
    with pytest.raises(UnsafeArchiveError, match="unsafe path"):
        safe_extract(bad, tmp_path / "b")
    assert not (tmp_path / "escape.txt").exists()


def test_safe_extract_refuses_non_archives(tmp_path):
    (tmp_path / "notes.txt").write_text("plain text")
    with pytest.raises(ValueError, match="neither a tar nor a zip"):
        safe_extract(tmp_path / "notes.txt", tmp_path / "out")
