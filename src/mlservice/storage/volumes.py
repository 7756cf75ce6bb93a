"""Local volumes (`$MLS_HOME/volumes/NAME/`, what `pvc://NAME/` means): create, list, copy in."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlservice.errors import (
    AlreadyExists,
    InvalidInput,
    InvalidStorageSource,
    StorageNotFound,
    UnsafePath,
)
from mlservice.home import Home
from mlservice.storage.local import volume_path
from mlservice.storage.paths import check_volume_name, safe_join
from mlservice.storage.uri import parse_uri

_CHUNK = 1 << 20


@dataclass(frozen=True)
class VolumeInfo:
    name: str
    path: Path
    files: int
    size: int


@dataclass(frozen=True)
class CopyPlan:
    """Which local files go where; `target` is what the destination URI ended up naming."""

    files: tuple[tuple[Path, Path], ...]
    target: Path
    volume: Path

    @property
    def total(self) -> int:
        return sum(src.stat().st_size for src, _ in self.files)


def create_volume(home: Home, name: str, *, exist_ok: bool = False) -> Path:
    reason = check_volume_name(name)
    if reason is not None:
        raise InvalidInput(f"Volume name {name!r} is invalid: it {reason}.")
    path = home.volume(name)
    if path.exists() and not exist_ok:
        raise AlreadyExists(f"Volume {name} already exists at {path}.")
    home.ensure()
    path.mkdir(parents=True, exist_ok=True)
    return path


def list_volumes(home: Home) -> list[VolumeInfo]:
    if not home.volumes.is_dir():
        return []
    folders = sorted(p for p in home.volumes.iterdir() if p.is_dir())
    return [_info(folder) for folder in folders]


def plan_copy(home: Home, src: Path, dest: str) -> CopyPlan:
    """Where each file under `src` lands for `dest` = `pvc://VOLUME/PATH`.

    A file goes to PATH, or into it when PATH is empty, ends in `/` or is a directory. A directory
    becomes PATH (merging into an existing one), or PATH/<its name> when PATH is empty or ends in
    `/`. Symlinked directories inside `src` are not followed; symlinked files are copied.
    """
    uri = parse_uri(dest)
    if uri.scheme != "pvc":
        raise InvalidInput(f"Destination {uri} must be pvc://VOLUME/PATH.")
    if not src.exists():
        raise StorageNotFound(f"Source {src} does not exist.")
    target = volume_path(home, uri)
    home.ensure()  # what `copy_files` writes is owner-only, as everything in the data dir
    volume = home.volume(uri.rest.partition("/")[0])
    into = uri.rest.endswith("/") or "/" not in uri.rest.strip("/")
    if src.is_file():
        into = into or target.is_dir()
        target = target / src.name if into else target
        return CopyPlan(((src, target),), target, volume)
    target = target / src.name if into else target
    files = tuple((path, target / path.relative_to(src)) for path in _walk_files(src))
    return CopyPlan(files, target, volume)


def copy_files(plan: CopyPlan, *, advance: Callable[[int], None]) -> None:
    """Copy each file through a temporary name, so a replica reading the volume in place never
    sees half a file; `advance` gets byte counts as they are written."""
    for src, target in plan.files:
        # An existing symlink inside the volume could otherwise carry the write outside it.
        folder = target.parent.relative_to(plan.volume).as_posix()
        try:
            safe_join(plan.volume, folder, within="its volume")
        except UnsafePath as exc:
            raise InvalidStorageSource(f"Copy target {target} {exc.why}.") from None
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.mls-partial")
        partial.unlink(missing_ok=True)  # a leftover, or a link that would take the write away
        with src.open("rb") as reader, partial.open("wb") as writer:
            while chunk := reader.read(_CHUNK):
                writer.write(chunk)
                advance(len(chunk))
        # The source's mode for its owner only (an executable stays one): chmod ignores umask.
        partial.chmod(stat.S_IMODE(src.stat().st_mode) & 0o700)
        os.replace(partial, target)


def _walk_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        found.extend(Path(folder, name) for name in sorted(files))
    return found


def _info(folder: Path) -> VolumeInfo:
    files = _walk_files(folder)
    size = sum(p.lstat().st_size for p in files)
    return VolumeInfo(name=folder.name, path=folder, files=len(files), size=size)
