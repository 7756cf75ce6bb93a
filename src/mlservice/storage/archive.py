"""Safe extraction of `.tar.gz`, `.tgz` and `.zip` model archives.

Every entry is checked before anything is written: names must be relative without `..`, no entry
may be written through a symlink from the same archive, links must point inside. Extraction then
goes to a fresh sibling folder (tarfile's "data" filter re-checks each member against the real
file system), symlinks are re-checked once more with every link resolved, and only a fully
checked folder is renamed into place. A refused archive leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import uuid
import zipfile
from pathlib import Path, PurePosixPath

from mlservice.errors import StorageError, UnsafeArchiveError, UnsafePath
from mlservice.storage.paths import escaping_link, relative_parts

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def extract_archive(archive: Path, target: Path, *, label: str | None = None) -> None:
    """Extract `archive` into `target`, which must not exist; `label` names it in errors."""
    label = label or str(archive)
    scratch = target.parent / f".{target.name}.extract-{uuid.uuid4().hex[:8]}"
    scratch.mkdir(parents=True)
    try:
        if archive.name.lower().endswith(".zip"):
            _extract_zip(archive, scratch, label)
        else:
            _extract_tar(archive, scratch, label)
        _check_links_resolved(scratch, label)
        scratch.rename(target)
    finally:
        if scratch.exists():
            shutil.rmtree(scratch)


def _extract_tar(archive: Path, into: Path, label: str) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            _check_tar_members(members, label)
            tar.extractall(into, filter=_private_data)
    except tarfile.FilterError as exc:
        name = exc.tarinfo.name
        raise UnsafeArchiveError(_refused(label, name, "leaves the archive's folder")) from None
    except (tarfile.TarError, EOFError) as exc:
        raise StorageError(f"Archive {label} is not a readable tar.gz file ({exc}).") from None
    except OSError as exc:
        raise StorageError(
            f"Archive {label} could not be extracted ({exc.strerror or type(exc).__name__})."
        ) from None


def _private_data(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """tarfile's "data" filter, and the owner's bits only: like everything in the data dir,
    an extracted model is not for other users (chmod after extraction ignores the umask)."""
    checked = tarfile.data_filter(member, dest)
    if checked.mode is None:
        return checked
    return checked.replace(mode=checked.mode & 0o700, deep=False)


def _check_tar_members(members: list[tarfile.TarInfo], label: str) -> None:
    links = {_entry(m.name, label) for m in members if m.issym() or m.islnk()}
    files: set[PurePosixPath] = set()
    for member in members:
        path = _entry(member.name, label)
        if path == PurePosixPath() and not member.isdir():
            raise UnsafeArchiveError(_refused(label, member.name, "names no file"))
        _refuse_through_links(path, links, label, member.name)
        if path in links and not (member.issym() or member.islnk()):
            raise UnsafeArchiveError(_refused(label, member.name, "overwrites a link"))
        if member.isdev():
            raise UnsafeArchiveError(_refused(label, member.name, "is a device or fifo"))
        if member.issym():
            _check_symlink(member, path, label)
        if member.islnk() and _entry(member.linkname, label, shown=member.name) not in files:
            # Only to a plain file extracted before it: anything else is either a link to a link
            # or makes tarfile search the archive for a target it may not find.
            raise UnsafeArchiveError(_refused(label, member.name, "is a hard link to no file"))
        if member.isfile():
            files.add(path)


def _check_symlink(member: tarfile.TarInfo, path: PurePosixPath, label: str) -> None:
    if member.linkname.startswith("/"):
        raise UnsafeArchiveError(_refused(label, member.name, "is a symlink to an absolute path"))
    resolved = os.path.normpath(os.path.join(str(path.parent), member.linkname))
    if resolved == ".." or resolved.startswith("../"):
        raise UnsafeArchiveError(_refused(label, member.name, "is a symlink pointing outside"))


def _refuse_through_links(
    path: PurePosixPath, links: set[PurePosixPath], label: str, name: str
) -> None:
    if any(parent in links for parent in path.parents):
        raise UnsafeArchiveError(_refused(label, name, "goes through a link"))


def _extract_zip(archive: Path, into: Path, label: str) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            entries = zf.infolist()
            for info in entries:
                if _entry(info.filename, label) == PurePosixPath() and not info.is_dir():
                    raise UnsafeArchiveError(_refused(label, info.filename, "names no file"))
            # zipfile never creates links: a symlink entry becomes a small text file.
            zf.extractall(into)
    except zipfile.BadZipFile as exc:
        raise StorageError(f"Archive {label} is not a readable zip file ({exc}).") from None
    except OSError as exc:
        raise StorageError(
            f"Archive {label} could not be extracted ({exc.strerror or type(exc).__name__})."
        ) from None


def _check_links_resolved(root: Path, label: str) -> None:
    """Lexical checks cannot see a chain of links (`a -> .`, `b -> a/..`); the disk can."""
    link = escaping_link(root, root)
    if link is not None:
        name = link.relative_to(root).as_posix()
        raise UnsafeArchiveError(_refused(label, name, "is a symlink pointing outside"))


def _entry(name: str, label: str, *, shown: str | None = None) -> PurePosixPath:
    try:
        return relative_parts(name)
    except UnsafePath as exc:
        raise UnsafeArchiveError(_refused(label, shown or name, exc.why)) from None


def _refused(label: str, name: str, reason: str) -> str:
    return f"Archive {label} has entry {name!r} that {reason}; nothing was extracted."
