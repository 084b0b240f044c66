"""Fetch archives with progress, resume and checksums; extract them safely.

A download goes to ``<file>.part`` and resumes from there with an HTTP ``Range`` request; it
is moved into place only after its checksum matches. A wrong checksum deletes the file and says
so. Extraction refuses any archive member that could write outside the target folder (an
absolute path, ``..``, a link pointing outside, a device file): a malicious or broken archive is
an error, never a silent partial extraction. On Pythons with ``tarfile`` filters (3.12, and
3.8-3.11 security releases) the ``"data"`` filter is applied as well.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

CHUNK = 1 << 20


class ChecksumError(RuntimeError):
    """A downloaded or placed file does not have the expected checksum."""


class UnsafeArchiveError(RuntimeError):
    """An archive member would be written outside the extraction folder."""


def file_digest(path: str | os.PathLike[str], algorithm: str = "md5") -> str:
    """Hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_checksum(path: Path, md5: str | None = None, sha256: str | None = None) -> None:
    """Raise :class:`ChecksumError` if ``path`` does not match the given digest(s)."""
    for algorithm, expected in (("md5", md5), ("sha256", sha256)):
        if expected and file_digest(path, algorithm) != expected.lower():
            raise ChecksumError(
                f"{path.name}: {algorithm} mismatch (expected {expected}); the file is corrupt "
                "or not the official release"
            )


def download(url: str, dest: str | os.PathLike[str], md5: str | None = None,
             sha256: str | None = None, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest``, resuming a previous partial download; verify the checksum.

    Returns ``dest``. If ``dest`` already exists and matches the checksum nothing is fetched.
    """
    dest = Path(dest)
    if dest.is_file():
        verify_checksum(dest, md5, sha256)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # the part file is already complete
            response = None
        else:
            raise ConnectionError(
                f"cannot download {url}: HTTP {error.code} {error.reason}"
            ) from error
    except (urllib.error.URLError, OSError) as error:
        raise ConnectionError(
            f"cannot download {url}: {getattr(error, 'reason', error)}; check your internet "
            "connection, or download the file by hand and put it at " + str(dest)
        ) from error
    if response is not None:
        with response:
            resumed = response.status == 206
            mode = "ab" if resumed else "wb"
            total = response.length + (have if resumed else 0) if response.length else None
            with open(part, mode) as f, tqdm(total=total, initial=have if resumed else 0,
                                             unit="B", unit_scale=True, desc=dest.name) as bar:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    f.write(chunk)
                    bar.update(len(chunk))
    try:
        verify_checksum(part, md5, sha256)
    except ChecksumError as error:
        part.unlink()
        raise ChecksumError(f"{error}; deleted it, run the command again to re-download") from None
    os.replace(part, dest)
    return dest


def _check_member_path(name: str, root: Path) -> Path:
    """The absolute target of archive member ``name``; raise if it escapes ``root``."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or name.startswith(("/", "\\")) or ".." in pure.parts or (
        len(name) > 1 and name[1] == ":"
    ):
        raise UnsafeArchiveError(f"refusing archive member with an unsafe path: {name!r}")
    target = (root / pure).resolve()
    if not target.is_relative_to(root):
        raise UnsafeArchiveError(f"refusing archive member outside the target folder: {name!r}")
    return target


def check_tar_members(archive: tarfile.TarFile, root: Path) -> None:
    """Raise :class:`UnsafeArchiveError` unless every member stays inside ``root``."""
    root = root.resolve()
    for member in archive.getmembers():
        target = _check_member_path(member.name, root)
        if member.isdev() or member.isfifo():
            raise UnsafeArchiveError(f"refusing device or FIFO archive member: {member.name!r}")
        if member.issym() or member.islnk():
            link = PurePosixPath(member.linkname)
            base = target.parent if member.issym() else root
            if link.is_absolute() or not (base / link).resolve().is_relative_to(root):
                raise UnsafeArchiveError(
                    f"refusing link {member.name!r} -> {member.linkname!r}: it points outside "
                    "the target folder"
                )


def safe_extract(archive_path: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Extract a ``.tar[.gz|.bz2|.xz]``, ``.tgz`` or ``.zip`` into ``dest`` after checking it."""
    archive_path, dest = Path(archive_path), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    if zipfile.is_zipfile(archive_path):
        with zipfile.ZipFile(archive_path) as archive:
            for name in archive.namelist():
                _check_member_path(name, root)
            archive.extractall(root)
        return dest
    if not tarfile.is_tarfile(archive_path):
        raise ValueError(f"{archive_path} is neither a tar nor a zip archive")
    with tarfile.open(archive_path) as archive:
        check_tar_members(archive, root)
        if hasattr(tarfile, "data_filter"):
            archive.extractall(root, filter="data")
        else:  # pragma: no cover - Pythons without extraction filters; members checked above
            archive.extractall(root)
    return dest

