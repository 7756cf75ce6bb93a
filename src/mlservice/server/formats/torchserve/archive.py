"""Opening a `.mar`: a zip (torch-model-archiver's default), a tar.gz (`--archive-format tgz`)
or an already unpacked folder (`no-archive`), extracted into a fresh private folder.

The same rules as model archives in storage (`storage/archive.py`; the server layer sits below
storage, so they are restated here): every entry is checked before anything is written, and an
absolute name, a `..` part, a link of any kind or a device refuses the whole archive. TorchServe
archives never need links, so none is allowed, not even one pointing inside.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from mlservice.errors import ModelFormatError, UnsafeArchiveError

SUFFIX = ".mar"


def extract(archive: Path, into: Path) -> Path:
    """The folder holding `archive`'s files: the folder itself for an unpacked model, else a
    new folder under `into` (which the caller removes)."""
    if archive.is_dir():
        return archive
    target = Path(tempfile.mkdtemp(prefix=archive.stem + "-", dir=into))
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, target)
        else:
            _extract_tar(archive, target)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target


def _extract_zip(archive: Path, target: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        entries = zf.infolist()
        for info in entries:
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafeArchiveError(_refused(archive, info.filename, "is a symlink"))
            _check_name(archive, info.filename)
        zf.extractall(target)


def _extract_tar(archive: Path, target: Path) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                if member.issym() or member.islnk():
                    raise UnsafeArchiveError(_refused(archive, member.name, "is a link"))
                if not (member.isfile() or member.isdir()):
                    raise UnsafeArchiveError(_refused(archive, member.name, "is a device or fifo"))
                _check_name(archive, member.name)
            tar.extractall(target, filter="data")
    except (tarfile.TarError, EOFError) as exc:
        raise ModelFormatError(
            f"Archive {archive} is neither a zip nor a tar.gz TorchServe archive ({exc})."
        ) from None


def _check_name(archive: Path, name: str) -> None:
    if "\x00" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(_refused(archive, name, "is absolute"))
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        raise UnsafeArchiveError(_refused(archive, name, "contains '..'"))


def _refused(archive: Path, name: str, why: str) -> str:
    return f"Archive {archive} has entry {name!r} that {why}; nothing was extracted."
