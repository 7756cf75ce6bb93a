"""Warm standbys: a process started ahead that becomes the next scikit-learn replica.

A cold `mls serve` spends about a second importing the server, numpy and scikit-learn before
it can load a model (`bench/coldstart.py`), and that second is most of a scale-from-zero. A
standby (`warm.py`) has done those imports already; handed a launch, it only loads the model
and starts serving. It is started like any replica (from the spawner thread, through the
shim: own session and process group, parent-death signal), so once it takes a launch the
engine watches, probes and stops it exactly as if it had just been spawned. One standby waits
at a time; taking it starts the next one a little later, so its imports do not compete with
the replica that is starting.

Only launches of our own `mls serve --format sklearn` without CPU pinning qualify, and only
when the variables read at import time (`PYTHON*`, BLAS and OpenMP thread settings, ...) are
the standby's: anything else starts cold, as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlservice.engine.local.process import Launch

# Read when the interpreter and numpy start: a standby imported under other values is no use.
IMPORT_TIME_PREFIXES = ("PYTHON", "OMP_", "OPENBLAS", "GOTO", "MKL_", "BLIS_", "LD_", "MALLOC_")
WARM_FORMAT = "sklearn"

Starter = Callable[[list[str], Mapping[str, str]], "subprocess.Popen[bytes]"]


def qualifies(launch: Launch) -> bool:
    argv = launch.argv
    if len(argv) < 2 or argv[1] != "serve" or launch.cpus:
        return False
    if os.path.basename(argv[0]) != "mls" or _resolve(argv[0], launch.env) != _our_mls():
        return False
    return _option(argv, "--format") == WARM_FORMAT


def import_settings(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(IMPORT_TIME_PREFIXES)}


def base_environment() -> dict[str, str]:
    """What a replica inherits from the engine, as far as imports care (see `launch.py`)."""
    env = {k: v for k, v in os.environ.items() if k != "MLS_TOKEN"}
    return {"PYTHONUNBUFFERED": "1", **env}


class Standbys:
    """The waiting standby. Every method runs on the spawner thread."""

    def __init__(self, start: Starter) -> None:
        self._start = start  # spawns argv with env through the shim, stdin a pipe
        self._waiting: subprocess.Popen[bytes] | None = None
        self._settings: dict[str, str] = {}
        self._closed = False

    @property
    def waiting(self) -> subprocess.Popen[bytes] | None:
        return self._waiting

    def take(self, launch: Launch) -> subprocess.Popen[bytes] | None:
        """The standby, now running `launch`; None when there is none fit for it."""
        standby, self._waiting = self._waiting, None
        if standby is None:
            return None
        if standby.poll() is not None or import_settings(launch.env) != self._settings:
            _dismiss(standby)
            return None
        job = {
            "argv": list(launch.argv),
            "env": dict(launch.env),
            "cwd": str(launch.cwd),
            "log_path": str(launch.log_path),
        }
        assert standby.stdin is not None
        try:
            standby.stdin.write(json.dumps(job).encode())
            standby.stdin.close()
        except OSError:  # it died just now
            _dismiss(standby)
            return None
        return standby

    def refill(self, env: Mapping[str, str]) -> None:
        """Start a standby for launches with `env`'s import-time settings (if none waits)."""
        if self._closed or (self._waiting is not None and self._waiting.poll() is None):
            return
        self._settings = import_settings(env)
        argv = [sys.executable, "-m", "mlservice.engine.local.warm"]
        self._waiting = self._start(argv, env)

    def close(self) -> None:
        self._closed = True
        standby, self._waiting = self._waiting, None
        if standby is not None:
            _dismiss(standby)


def _dismiss(standby: subprocess.Popen[bytes]) -> None:
    """End an unused standby: EOF tells it to exit; its group is killed if it lingers."""
    if standby.stdin is not None:
        with contextlib.suppress(OSError):
            standby.stdin.close()
    try:
        standby.wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(standby.pid, signal.SIGKILL)
        standby.wait()


def _option(argv: tuple[str, ...], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _resolve(program: str, env: Mapping[str, str]) -> str | None:
    found = shutil.which(program, path=env.get("PATH"))
    return os.path.realpath(found) if found else None


def _our_mls() -> str:
    return os.path.realpath(os.path.join(os.path.dirname(sys.executable), "mls"))
