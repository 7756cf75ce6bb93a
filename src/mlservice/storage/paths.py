"""Relative paths that stay inside their folder: archive entries, object keys, volume paths."""

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
