"""Paths that stay inside their folder: the one check for everything joined to a volume, the
model cache or a model folder (`safe_join`), archive entries and object keys (`relative_parts`),
and what a volume may be called (`check_volume_name`).

"Inside" is decided on disk, every symlink resolved (the file's own included), so a link that
points out of its folder is refused wherever it sits on the way.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from mlservice.errors import UnsafePath

# A Kubernetes object name (DNS-1123 subdomain): what a PersistentVolumeClaim may be called.
_VOLUME_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def relative_parts(name: str) -> PurePosixPath:
    """`name` as a normalized relative path ("." and empty segments dropped; "" for the folder).

    Refuses absolute paths, `..` anywhere and NUL bytes instead of rewriting them, so a hostile
    name fails loudly rather than landing somewhere unexpected.
    """
    if "\x00" in name:
        raise UnsafePath("contains a NUL byte")
    if name.startswith("/"):
        raise UnsafePath("is absolute")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafePath("contains '..'")
    return PurePosixPath(*parts)


def safe_join(root: Path, relative: str, *, within: str = "its folder") -> Path:
    """`root`/`relative`, refusing any result that is not inside `root` on disk.

    UnsafePath (before the disk is looked at) for an absolute path, `..` or a NUL byte; then
    UnsafePath naming the link when a symlink on the way, or the file itself, resolves outside
    `root`. `within` names `root` in that message ("volume data"). The path need not exist.
    """
    path = root.joinpath(relative_parts(relative))
    link = _first_link_outside(root, path)
    if link is not None:
        raise UnsafePath(f"leads outside {within} through a symlink ({link} links outside it)")
    return path


def escaping_link(root: Path, folder: Path) -> Path | None:
    """The first symlink under `folder` (a folder inside `root`) whose target, every link
    resolved, is outside `root`; None when there is none. Symlinked folders are checked, not
    walked into: what they hold is reached through a path inside `root` or refused with them."""
    for parent, dirs, files in os.walk(folder):
        dirs.sort()
        for name in [*dirs, *sorted(files)]:
            path = Path(parent, name)
            if path.is_symlink() and not is_inside(root, path):
                return path
    return None


def is_inside(root: Path, path: Path) -> bool:
    """Whether `path`, with every symlink resolved, is `root` or below it."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return os.path.commonpath([real_root, real]) == real_root


def check_volume_name(name: str) -> str | None:
    """Why `name` cannot name a volume, or None when it can."""
    if len(name) > 253:
        return "is longer than 253 characters"
    if not _VOLUME_NAME.match(name):
        return "must be lowercase letters, digits, '-' and '.', starting and ending alphanumeric"
    return None


def _first_link_outside(root: Path, path: Path) -> str | None:
    """`path`'s first part (relative to `root`) that resolves outside `root`, or None."""
    if is_inside(root, path):
        return None
    step = root
    relative = path.relative_to(root)
    for part in relative.parts:
        step = step / part
        if not is_inside(root, step):
            return step.relative_to(root).as_posix()
    return relative.as_posix()
