"""The web console's assets: plain ES modules, CSS and one HTML shell, shipped as package data.

No build step and no network: the files under `static/` are the sources the browser runs.
`asset(name)` is the only way in, so a request can name nothing outside that folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str


@cache
def _names() -> frozenset[str]:
    folder = resources.files(__name__) / "static"
    return frozenset(entry.name for entry in folder.iterdir() if entry.is_file())


def asset(name: str) -> Asset | None:
    """The shipped file `name` (a bare file name, e.g. `app.js`), or None."""
    suffix = name[name.rfind(".") :] if "." in name else ""
    if name not in _names() or suffix not in CONTENT_TYPES:
        return None
    body = (resources.files(__name__) / "static" / name).read_bytes()
    return Asset(body, CONTENT_TYPES[suffix])
