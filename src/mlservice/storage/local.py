"""Local sources, used in place: `pvc://VOLUME/PATH` (a volume under the data dir) and files."""

from __future__ import annotations

from pathlib import Path

from mlservice.errors import InvalidStorageSource, StorageNotFound, UnsafePath
from mlservice.home import Home
from mlservice.storage.base import Log, Probe
from mlservice.storage.paths import check_volume_name, is_inside, relative_parts
from mlservice.storage.uri import ModelURI


def volume_path(home: Home, uri: ModelURI) -> Path:
    """The local path `pvc://VOLUME/PATH` names, refusing one that escapes the volume.

    The path need not exist yet (`mls volume cp` writes to it); the volume must.
    """
    name, _, raw_path = uri.rest.partition("/")
    reason = check_volume_name(name)
    if reason is not None:
        raise InvalidStorageSource(f"Model URI {uri} names volume {name!r}, which {reason}.")
    root = home.volume(name)
    if not root.is_dir():
        raise StorageNotFound(
            f"Volume {name} of {uri} does not exist; create it with `mls volume create {name}`."
        )
    try:
        relative = relative_parts(raw_path)
    except UnsafePath as exc:
        raise InvalidStorageSource(
            f"Model URI {uri} has a path that {exc.why}; it must stay inside volume {name}."
        ) from None
    path = root.joinpath(relative)
    if not is_inside(root, path):
        raise InvalidStorageSource(
            f"Model URI {uri} leads outside volume {name} through a symlink."
        )
    return path


def local_probe(uri: ModelURI, path: Path) -> Probe:
    """Describe an existing local file or directory, to be used where it is."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise StorageNotFound(f"Model URI {uri} names {path}, which does not exist.") from None
    is_file = path.is_file()
    return Probe(
        version=f"{stat.st_mtime_ns}:{stat.st_size}",
        file_name=path.name if is_file else None,
        local=path,
    )


class PvcProvider:
    """`pvc://VOLUME/PATH`: `$MLS_HOME/volumes/VOLUME/PATH`, used in place and never copied."""

    def __init__(self, home: Home) -> None:
        self._home = home

    def probe(self, uri: ModelURI) -> Probe:
        return local_probe(uri, volume_path(self._home, uri))

    def download(self, uri: ModelURI, dest: Path, log: Log) -> Path:
        # Already local: an archive is extracted straight from the volume.
        return volume_path(self._home, uri)


class FileProvider:
    """`file:///abs/path` and plain paths (relative to the working directory)."""

    def probe(self, uri: ModelURI) -> Probe:
        return local_probe(uri, _file_path(uri))

    def download(self, uri: ModelURI, dest: Path, log: Log) -> Path:
        return _file_path(uri)


def _file_path(uri: ModelURI) -> Path:
    # Absolute: replicas run in working directories of their own.
    return Path(uri.rest).expanduser().absolute()
