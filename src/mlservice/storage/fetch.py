"""`fetch_model`: a model URI in, a local path out. What a replica's storage initializer runs
on this machine; `fetch_into` is what it runs in a pod (`mls storage-init`): no cache, the
model copied into one folder."""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mlservice.errors import MLServiceError, StorageError
from mlservice.home import Home
from mlservice.storage.archive import extract_archive, is_archive
from mlservice.storage.base import Log, LogSink, Provider, as_log
from mlservice.storage.cache import cached
from mlservice.storage.http import HttpProvider
from mlservice.storage.local import ClaimProvider, FileProvider, PvcProvider
from mlservice.storage.s3cfg import S3Config, parse_s3cfg
from mlservice.storage.uri import ModelURI, parse_uri


@dataclass(frozen=True)
class Context:
    """What providers may need besides the URI."""

    home: Home | None
    s3: S3Config | None = None
    claim_root: Path | None = None
    """Where a pod mounts the claim of a `pvc://` URI; None: the data dir's volumes."""


def _s3(context: Context) -> Provider:
    # Imported on first use: boto3 takes a noticeable share of a second to import, and most
    # `mls` commands never touch S3.
    from mlservice.storage.s3 import S3Provider

    return S3Provider(context.s3)


def _pvc(context: Context) -> Provider:
    if context.claim_root is not None:
        return ClaimProvider(context.claim_root)
    if context.home is None:
        raise StorageError("A pvc:// URI needs a data dir or a mounted claim.")
    return PvcProvider(context.home)


PROVIDERS: dict[str, Callable[[Context], Provider]] = {
    "pvc": _pvc,
    "file": lambda context: FileProvider(),
    "s3": _s3,
    "http": lambda context: HttpProvider(),
    "https": lambda context: HttpProvider(),
}


def fetch_model(
    uri: str,
    *,
    home: Home,
    secret_s3cfg: str | S3Config | None = None,
    log: LogSink = None,
) -> Path:
    """Return a local path holding the model `uri` names, downloading it if needed.

    `pvc://` and local paths are used in place (a directory or a single file); everything else,
    and any single `.tar.gz`/`.tgz`/`.zip` archive (extracted), lands in a folder of the shared
    cache under `home`. `secret_s3cfg` is the S3 Secret's `.s3cfg` text. Progress and errors go
    to `log` (a callable, an open text file or None); credentials never do. Raises
    `errors.StorageError` subclasses whose one-sentence message names the URI.
    """
    config = parse_s3cfg(secret_s3cfg) if isinstance(secret_s3cfg, str) else secret_s3cfg
    write = as_log(log, hide=config.secrets if config else ())
    with _reported(uri, write):
        parsed = parse_uri(uri)
    with _reported(parsed.display, write):
        provider = PROVIDERS[parsed.scheme](Context(home=home, s3=config))
        return _fetch(parsed, provider, home=home, log=write)


@contextlib.contextmanager
def _reported(shown: str, log: Log) -> Iterator[None]:
    """Errors go to `log` as well; an OSError becomes a StorageError naming `shown`."""
    try:
        yield
    except MLServiceError as exc:
        log(f"error: {exc.message}")
        raise
    except OSError as exc:
        error = StorageError(f"Fetching {shown} failed ({exc.strerror or type(exc).__name__}).")
        log(f"error: {error.message}")
        raise error from None


def _fetch(uri: ModelURI, provider: Provider, *, home: Home, log: Log) -> Path:
    log(f"fetching {uri}")
    probe = provider.probe(uri)
    archive = probe.file_name is not None and is_archive(probe.file_name)
    if probe.local is not None and not archive:
        log(f"using {probe.local} in place")
        return probe.local

    def fill(path: Path) -> None:
        if archive:
            _download_and_extract(uri, provider, path, log)
        else:
            path.mkdir()
            provider.download(uri, path, log)

    home.ensure()  # the cache is in the data dir: what lands in it is owner-only
    path = cached(
        home.model_cache,
        key=uri.cache_key,
        shown=uri.display,
        version=probe.version,
        fill=fill,
        log=log,
    )
    log(f"model ready at {path}")
    return path


def _download_and_extract(uri: ModelURI, provider: Provider, target: Path, log: Log) -> None:
    scratch = target.parent / f".dl-{uuid.uuid4().hex[:8]}"
    scratch.mkdir()
    try:
        archive = provider.download(uri, scratch, log)
        log(f"extracting {archive.name}")
        extract_archive(archive, target, label=uri.display)
    finally:
        shutil.rmtree(scratch)


STAGING = ".mls-staging-"
DONE_MARKER = ".mls-storage-init"
"""Written into a filled folder, holding the URI (as displayed): a rerun of the same fetch (a
restarted pod's init container) finds it and does nothing."""
POD_SCHEMES = ("pvc", "s3", "http", "https")
POD_SUPPORTED = "pvc://, s3://, http:// or https:// (a pod has no local models)"


def fetch_into(
    uri: str,
    dest: Path,
    *,
    claim_root: Path,
    s3: S3Config | None = None,
    log: LogSink = None,
) -> bool:
    """Fill the folder `dest` with the model `uri` names, as a pod's storage initializer.

    `pvc://CLAIM/PATH` is read from the claim mounted at `claim_root` and copied; s3 and http(s)
    are downloaded; an archive is extracted. `dest` must be empty (or missing) unless an earlier
    fetch of the same URI filled it: then nothing happens and False is returned. Everything
    lands in a staging folder inside `dest` first, with the checks `fetch_model` makes (archive
    entries, object keys, links out of a claim), so a refused or broken fetch leaves `dest`
    as it was. Raises `errors.StorageError` subclasses naming the URI.
    """
    write = as_log(log, hide=s3.secrets if s3 else ())
    with _reported(uri, write):
        parsed = parse_uri(uri, schemes=POD_SCHEMES, supported=POD_SUPPORTED)
    with _reported(parsed.display, write):
        if not _ready_for(dest, parsed, write):
            return False
        provider = PROVIDERS[parsed.scheme](Context(home=None, s3=s3, claim_root=claim_root))
        _fill(parsed, provider, dest, write)
        return True


def _ready_for(dest: Path, uri: ModelURI, log: Log) -> bool:
    """Whether `dest` is an empty folder to fill (created if missing); False when it already
    holds this URI's model. A staging folder a killed fetch left is removed."""
    dest.mkdir(parents=True, exist_ok=True)
    marker = dest / DONE_MARKER
    if marker.is_file():
        done = marker.read_text().strip()
        if done == uri.display:
            log(f"{dest} already holds {uri}; nothing to fetch")
            return False
        raise StorageError(f"{dest} already holds {done}, not {uri}; it must be empty.")
    for entry in dest.iterdir():
        if entry.name.startswith(STAGING) and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            raise StorageError(
                f"{dest} is not empty (it holds {entry.name}); the model goes into an empty folder."
            )
    return True


def _fill(uri: ModelURI, provider: Provider, dest: Path, log: Log) -> None:
    log(f"fetching {uri} into {dest}")
    staging = dest / f"{STAGING}{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        model = staging / "model"
        probe = provider.probe(uri)
        archive = probe.file_name is not None and is_archive(probe.file_name)
        if probe.local is not None:
            if archive:
                log(f"extracting {probe.local.name}")
                extract_archive(probe.local, model, label=uri.display)
            else:
                _copy_local(probe.local, model, log)
        elif archive:
            _download_and_extract(uri, provider, model, log)
        else:
            model.mkdir()
            provider.download(uri, model, log)
        for entry in sorted(model.iterdir()):
            entry.rename(dest / entry.name)
        (dest / DONE_MARKER).write_text(uri.display + "\n")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f"model ready in {dest}")


def _copy_local(source: Path, model: Path, log: Log) -> None:
    """Copy a claim's file or folder: links are followed (the provider checked that none
    leads out of the claim), so the copy holds files only."""
    log(f"copying {source}")
    if source.is_dir():
        shutil.copytree(source, model, symlinks=False)
    else:
        model.mkdir()
        shutil.copy2(source, model / source.name)
