"""Model URIs: which scheme, what follows it, and a form safe to print."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from mlservice.errors import InvalidStorageSource

SCHEMES = ("pvc", "s3", "http", "https", "file")
SUPPORTED = "pvc://, s3://, http://, https://, file:// or a local path"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.DOTALL)


@dataclass(frozen=True)
class ModelURI:
    """A parsed model URI. `rest` is everything after `scheme://` (for a plain path, the path)."""

    raw: str
    scheme: str
    rest: str

    @property
    def display(self) -> str:
        """The URI without user info or query string, which may carry credentials or signatures."""
        # s3 keys and local paths may legitimately contain "@" or "?"
        return _redacted(self.raw) if self.scheme in ("http", "https") else self.raw

    @property
    def cache_key(self) -> str:
        """What identifies the content: a relative local path means different files per cwd."""
        if self.scheme == "file":
            return f"file://{Path(self.rest).expanduser().absolute()}"
        return self.raw

    def __str__(self) -> str:
        return self.display


def parse_uri(
    raw: str, *, schemes: tuple[str, ...] = SCHEMES, supported: str = SUPPORTED
) -> ModelURI:
    """Split `raw` into scheme and rest; a string without `://` is a local path. A caller that
    takes fewer schemes names them (`schemes`, "file" for paths too) and says so (`supported`)."""
    if not raw.strip():
        raise InvalidStorageSource(f"The model URI is empty; use {supported}.")
    match = _SCHEME.match(raw)
    if match is None:
        if "file" not in schemes:
            raise InvalidStorageSource(f"Model URI {raw} is a local path; use {supported}.")
        return ModelURI(raw=raw, scheme="file", rest=raw)
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme not in schemes:
        raise InvalidStorageSource(
            f"Model URI {_redacted(raw)} has unsupported scheme {scheme}://; use {supported}."
        )
    if not rest:
        raise InvalidStorageSource(f"Model URI {raw} names nothing after {scheme}://.")
    return ModelURI(raw=raw, scheme=scheme, rest=rest)


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    if "@" in parts.netloc:
        netloc = f"***@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
