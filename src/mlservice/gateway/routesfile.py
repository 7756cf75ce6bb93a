"""The last routing snapshot the gateway accepted, kept on disk so a restart serves at once.

`$MLS_HOME/gateway/routes.json` (mode 0600: it names every service and its replicas), the
snapshot's wire form, replaced atomically after every accepted push and before the push is
acknowledged: what the file holds is what the control plane last saw acknowledged, or nothing.
A restarted gateway serves it until the control plane pushes again. Addresses in it may be
stale by then; a replica that refuses the connection costs a retry on another, not an error.

Only a gateway of the same run of `mls up` serves it (`owner`: its parent's pid and start
time). A new run starts new replicas, and one may get a port the file gives to another
service: a wrong answer, where an empty table only costs a 404 until the first push.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import TypeAdapter

from mlservice.errors import InvalidInput
from mlservice.gateway import wire
from mlservice.gateway.snapshot import RoutingSnapshot, no_extra_fields

log = logging.getLogger("mlservice.gateway")


@no_extra_fields
@dataclass(frozen=True)
class SavedRoutes:
    owner: str | None  # the run that saved it (`run_of`); None for a gateway run on its own
    snapshot: RoutingSnapshot


SAVED: TypeAdapter[SavedRoutes] = TypeAdapter(SavedRoutes)


def run_of(pid: int | None) -> str | None:
    """One run of process `pid`: its pid and start time (a pid alone is soon reused)."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return str(pid)
    return f"{pid}@{stat.rpartition(')')[2].split()[19]}"  # field 22, starttime


class RoutesFile:
    def __init__(self, path: Path, *, owner: str | None) -> None:
        self.path = path
        self.owner = owner
        self._lock = asyncio.Lock()  # pushes are written in the order they were accepted

    def load(self) -> RoutingSnapshot | None:
        """The saved snapshot if this run saved it; None otherwise (logged when unusable)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._skip(f"unreadable ({exc})")
            return None
        try:
            saved = wire.validate(SAVED, data, what="saved routes")
        except InvalidInput as exc:
            self._skip(f"ignored: {exc.message}")
            return None
        if saved.owner != self.owner:
            self._skip(f"saved by another run ({saved.owner}), ignored")
            return None
        return saved.snapshot

    def _skip(self, why: str) -> None:
        log.warning("mls gateway: saved routes %s %s; starting empty", self.path, why)

    async def save(self, snapshot: RoutingSnapshot) -> None:
        """Replace the file with `snapshot` (off the event loop); failures are logged."""
        data = SAVED.dump_json(SavedRoutes(self.owner, snapshot))
        async with self._lock:
            await asyncio.to_thread(self._write, data)

    def _write(self, data: bytes) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            # No fsync: the file outlives a crash of the gateway, not of the machine (after
            # which no replica it names is running anyway).
            os.replace(tmp, self.path)
        except OSError as exc:
            # Left behind, an older snapshot would be served after a restart as if current,
            # its replica addresses possibly reused by others since: better none.
            log.warning("mls gateway: saving routes to %s failed (%s); removed it", self.path, exc)
            for path in (tmp, self.path):
                with contextlib.suppress(OSError):
                    path.unlink()
