"""The data dir (`$MLS_HOME`, default `~/.mlservice`) and what lives where inside it.

The data dir holds Secrets (`state.db`), the API token and request logs, so it is the owner's
alone: `Home.ensure()` makes the folder 0700 and the process umask 0o077, so every file and
folder mlservice creates under it afterwards is owner-only, whichever module writes it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

PRIVATE_UMASK = 0o077
"""No group or other bits on anything created: files 0600, folders and programs 0700."""


@dataclass(frozen=True)
class Home:
    """Paths under one data dir. Creating directories is the caller's job, when it needs them;
    whoever writes into the data dir calls `ensure()` first."""

    root: Path

    def ensure(self) -> Path:
        """Create the data dir owner-only (0700), make this process's umask (inherited by
        every child: the gateway, the control plane, replicas) owner-only, and take group and
        other bits off what the data dir already holds at its top level, which a version
        before this rule, or a tool run before `mls up`, left readable. Returns `root`."""
        os.umask(os.umask(PRIVATE_UMASK) | PRIVATE_UMASK)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        _make_private(self.root)
        with os.scandir(self.root) as entries:
            for entry in entries:
                # Not through symlinks: a link's target is not the data dir's to change.
                if not entry.is_symlink():
                    _make_private(Path(entry.path))
        return self.root

    @classmethod
    def from_env(cls, override: str | os.PathLike[str] | None = None) -> Home:
        """`override` (`mls up --home`) beats `$MLS_HOME`, which beats `~/.mlservice`."""
        raw = override or os.environ.get("MLS_HOME") or Path.home() / ".mlservice"
        return cls(Path(raw).expanduser().resolve())

    @property
    def state_db(self) -> Path:
        return self.root / "state.db"

    @property
    def token(self) -> Path:
        return self.root / "token"

    @property
    def endpoints(self) -> Path:
        return self.root / "endpoints.json"

    @property
    def pki(self) -> Path:
        """The API's CA and TLS certificate (`api/pki.py`)."""
        return self.root / "pki"

    @property
    def kubeconfig(self) -> Path:
        """What kubectl and the kubernetes client read: the TLS API, its CA, the token."""
        return self.root / "kubeconfig"

    @property
    def volumes(self) -> Path:
        return self.root / "volumes"

    def volume(self, name: str) -> Path:
        return self.volumes / name

    @property
    def model_cache(self) -> Path:
        return self.root / "cache" / "models"

    @property
    def replicas(self) -> Path:
        return self.root / "replicas"

    @property
    def request_logs(self) -> Path:
        return self.root / "logs" / "requests"


def _make_private(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & PRIVATE_UMASK:
            path.chmod(mode & ~PRIVATE_UMASK)
    except FileNotFoundError:
        pass  # a temporary file renamed or removed meanwhile
