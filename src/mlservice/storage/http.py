"""`http://` and `https://`: one file per URI, streamed to disk."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from mlservice.errors import (
    InvalidStorageSource,
    StorageAccessDenied,
    StorageError,
    StorageNotFound,
    StorageUnreachable,
)
from mlservice.storage.base import Log, Probe, ProgressLog
from mlservice.storage.uri import ModelURI

_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_CHUNK = 1 << 20


class HttpProvider:
    """Caches by ETag, else by Last-Modified and size; a server giving neither is re-fetched."""

    def probe(self, uri: ModelURI) -> Probe:
        name = _file_name(uri)
        with _client() as client:
            response = _request(client, "HEAD", uri)
        # Servers that refuse HEAD (or presigned URLs, signed for GET only) leave the GET to
        # decide; without a version the file is fetched afresh each time.
        if response.status_code in (401, 403, 405, 501):
            return Probe(version=None, file_name=name)
        _raise_for_status(response, uri)
        return Probe(version=_version(response.headers), file_name=name)

    def download(self, uri: ModelURI, dest: Path, log: Log) -> Path:
        target = dest / _file_name(uri)
        with _client() as client:
            response = _request(client, "GET", uri, stream=True)
            try:
                _raise_for_status(response, uri)
                _save(response, target, uri, log)
            finally:
                response.close()
        return target


def _client() -> httpx.Client:
    return httpx.Client(timeout=_TIMEOUT, follow_redirects=True)


def _request(
    client: httpx.Client, method: str, uri: ModelURI, *, stream: bool = False
) -> httpx.Response:
    try:
        return client.send(client.build_request(method, uri.raw), stream=stream)
    except httpx.HTTPError as exc:
        raise StorageUnreachable(f"{uri} is unreachable ({type(exc).__name__}).") from None


def _save(response: httpx.Response, target: Path, uri: ModelURI, log: Log) -> None:
    size = response.headers.get("content-length")
    progress = ProgressLog(log, label=str(uri), total=int(size) if size else None)
    try:
        with target.open("wb") as out:
            for chunk in response.iter_bytes(_CHUNK):
                out.write(chunk)
                progress.advance(len(chunk))
    except httpx.HTTPError as exc:
        raise StorageUnreachable(f"Download of {uri} broke off ({type(exc).__name__}).") from None
    progress.finish()


def _raise_for_status(response: httpx.Response, uri: ModelURI) -> None:
    code = response.status_code
    if code < 400:
        return
    if code == 404:
        raise StorageNotFound(f"{uri} does not exist (HTTP 404).")
    if code in (401, 403):
        raise StorageAccessDenied(f"Access to {uri} was denied (HTTP {code}).")
    raise StorageError(f"Fetching {uri} failed with HTTP {code}.")


def _version(headers: httpx.Headers) -> str | None:
    if etag := headers.get("etag"):
        return f"etag:{etag}"
    if modified := headers.get("last-modified"):
        return f"modified:{modified}:size:{headers.get('content-length', '?')}"
    return None


def _file_name(uri: ModelURI) -> str:
    name = unquote(urlsplit(uri.raw).path.rsplit("/", 1)[-1])
    if name in ("", ".", "..") or "/" in name or "\x00" in name:
        raise InvalidStorageSource(f"Model URI {uri} does not end in a file name.")
    return name
