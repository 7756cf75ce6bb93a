"""`fetch_model`: a model URI in, a local path out. What a replica's storage initializer runs."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlservice.errors import MLServiceError, StorageError
from mlservice.home import Home
from mlservice.storage.archive import extract_archive, is_archive
from mlservice.storage.base import Log, LogSink, Provider, as_log
from mlservice.storage.cache import cached
from mlservice.storage.http import HttpProvider
from mlservice.storage.local import FileProvider, PvcProvider
from mlservice.storage.s3cfg import S3Config, parse_s3cfg
from mlservice.storage.uri import ModelURI, parse_uri


@dataclass(frozen=True)
class Context:
    """What providers may need besides the URI."""

    home: Home
    s3: S3Config | None = None


def _s3(context: Context) -> Provider:
    # Imported on first use: boto3 takes a noticeable share of a second to import, and most
    # `mls` commands never touch S3.
    from mlservice.storage.s3 import S3Provider

    return S3Provider(context.s3)


PROVIDERS: dict[str, Callable[[Context], Provider]] = {
    "pvc": lambda context: PvcProvider(context.home),
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
    shown = uri
    try:
        parsed = parse_uri(uri)
        shown = parsed.display
        provider = PROVIDERS[parsed.scheme](Context(home=home, s3=config))
        return _fetch(parsed, provider, home=home, log=write)
    except MLServiceError as exc:
        write(f"error: {exc.message}")
        raise
    except OSError as exc:
        error = StorageError(f"Fetching {shown} failed ({exc.strerror or type(exc).__name__}).")
        write(f"error: {error.message}")
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
