"""Running `mls` as a user does: a child process of this venv's Python, its output captured."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def user_env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """This process's environment as a user's shell would hold it: no MLS_API or MLS_TOKEN
    (the test runner's own must not leak in), MLS_HOME naming `home` if given, then `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLS_API", "MLS_TOKEN")}
    if home is not None:
        env["MLS_HOME"] = str(home)
    return env | extra


def mls(
    *args: str,
    home: Path | None = None,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """`mls ARGS...` run to completion; with `home` it finds `mls up` through MLS_HOME alone.
    `env` is added to the user's environment. Never raises on a non-zero exit: tests assert
    on `returncode` and `stderr` themselves."""
    return subprocess.run(
        [sys.executable, "-m", "mlservice", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=user_env(home, **(env or {})),
        cwd=cwd,
        check=False,
    )
