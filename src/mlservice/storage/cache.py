"""The model cache: one folder per URI and content version, shared by every replica.

Layout under `$MLS_HOME/cache/models/`: `<sha256(uri)[:16]>/` holds a `.lock` file, the `uri`
(as displayed, for people browsing the cache) and one `v-<sha256(version)[:16]>/` per version.
A version folder only appears by renaming a complete temporary folder, so its existence means
"complete"; filling it happens under an exclusive `flock`, so concurrent fetches of the same URI
(replicas starting together, even from several processes) download once and the rest wait.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from mlservice.storage.base import Log


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached(
    root: Path,
    *,
    key: str,
    shown: str,
    version: str | None,
    fill: Callable[[Path], None],
    log: Log,
) -> Path:
    """The complete folder for (`key`, `version`), calling `fill(path)` to create it if missing.

    `fill` gets a path that does not exist yet and must leave a folder there. A `version` of None
    means nothing identifies the content, so it is fetched afresh into a new folder.
    """
    folder = root / digest(key)
    entry = folder / ("v-" + (digest(version) if version is not None else uuid.uuid4().hex))
    if version is not None and entry.is_dir():
        log(f"cache hit for {shown}: {entry}")
        return entry
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as lock:
        # Blocks while another fetch of this URI fills the cache; it then finds the entry.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if entry.is_dir():
            log(f"cache hit for {shown} (fetched concurrently): {entry}")
            return entry
        _remove_leftovers(folder)
        (folder / "uri").write_text(shown + "\n")
        scratch = folder / f".tmp-{uuid.uuid4().hex[:8]}"
        try:
            fill(scratch)
            scratch.rename(entry)
        finally:
            if scratch.exists():
                shutil.rmtree(scratch)
    log(f"cached {shown} at {entry}")
    return entry


def _remove_leftovers(folder: Path) -> None:
    """Temporary folders of fetches that died midway; safe to delete while holding the lock."""
    for path in folder.iterdir():
        if path.name.startswith(".") and path.name != ".lock" and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
