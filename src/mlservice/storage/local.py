"""Local sources, used in place: `pvc://VOLUME/PATH` (a volume under the data dir, or in a pod
the claim mounted where `ClaimProvider` is told) and files."""

from __future__ import annotations

from pathlib import Path

from mlservice.errors import InvalidStorageSource, StorageNotFound, UnsafePath
from mlservice.home import Home
from mlservice.storage.base import Log, Probe
from mlservice.storage.paths import check_volume_name, escaping_link, safe_join
from mlservice.storage.uri import ModelURI


def volume_path(home: Home, uri: ModelURI) -> Path:
    """The local path `pvc://VOLUME/PATH` names, refusing one that leaves the volume (`..`, or
    a symlink of a folder on the way or of the file itself leading out).

    The path need not exist yet (`mls volume cp` writes to it); the volume must.
    """
    name, root = _volume(home, uri)
    return _inside(root, name, uri)


def model_path(home: Home, uri: ModelURI) -> Path:
    """`volume_path` for a model about to be served: a folder's files are checked too, so no
    symlink in it hands a replica a file from outside the volume."""
    name, root = _volume(home, uri)
    return _model_in(root, name, uri)


def _model_in(root: Path, name: str, uri: ModelURI) -> Path:
    """The path `uri` names inside the volume `name` at `root`; neither it, nor a link on the
    way, nor a link in the folder it names may lead out of the volume."""
    path = _inside(root, name, uri)
    if path.is_dir():
        link = escaping_link(root, path)
        if link is not None:
            shown = link.relative_to(root).as_posix()
            raise InvalidStorageSource(
                f"Model URI {uri} holds {shown}, which links outside volume {name}; "
                "a model must stay inside its volume."
            )
    return path


def _inside(root: Path, name: str, uri: ModelURI) -> Path:
    try:
        return safe_join(root, uri.rest.partition("/")[2], within=f"volume {name}")
    except UnsafePath as exc:
        raise InvalidStorageSource(
            f"Model URI {uri} has a path that {exc.why}; it must stay inside volume {name}."
        ) from None


def _volume(home: Home, uri: ModelURI) -> tuple[str, Path]:
    name = _claim_name(uri)
    root = home.volume(name)
    if not root.is_dir():
        raise StorageNotFound(
            f"Volume {name} of {uri} does not exist; create it with `mls volume create {name}`."
        )
    return name, root


def _claim_name(uri: ModelURI) -> str:
    name = uri.rest.partition("/")[0]
    reason = check_volume_name(name)
    if reason is not None:
        raise InvalidStorageSource(f"Model URI {uri} names volume {name!r}, which {reason}.")
    return name


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
        return local_probe(uri, model_path(self._home, uri))

    def download(self, uri: ModelURI, dest: Path, log: Log) -> Path:
        # Already local: an archive is extracted straight from the volume.
        return model_path(self._home, uri)


class ClaimProvider:
    """`pvc://CLAIM/PATH` inside a pod: the claim is mounted at `root` (KServe's `/mnt/pvc`),
    whatever its name, and PATH is read below it."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def probe(self, uri: ModelURI) -> Probe:
        return local_probe(uri, self._path(uri))

    def download(self, uri: ModelURI, dest: Path, log: Log) -> Path:
        return self._path(uri)

    def _path(self, uri: ModelURI) -> Path:
        name = _claim_name(uri)
        if not self._root.is_dir():
            raise StorageNotFound(
                f"Claim {name} of {uri} is not mounted at {self._root}; mount it there."
            )
        return _model_in(self._root, name, uri)


class FileProvider:
    """`file:///abs/path` and plain paths (relative to the working directory)."""

    def probe(self, uri: ModelURI) -> Probe:
        return local_probe(uri, _file_path(uri))

    def download(self, uri: ModelURI, dest: Path, log: Log) -> Path:
        return _file_path(uri)


def _file_path(uri: ModelURI) -> Path:
    # Absolute: replicas run in working directories of their own.
    return Path(uri.rest).expanduser().absolute()
