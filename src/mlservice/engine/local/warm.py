"""A warm standby for `mls serve` (see `standby.py`): it imports first, then waits for a launch.

Run as `python -m mlservice.engine.local.warm` through the shim, so it is an ordinary replica
process of the engine. It imports what a scikit-learn replica needs (the server, numpy,
scikit-learn), then reads one launch from stdin as JSON (`argv`, `env`, `cwd`, `log_path`):
it takes that environment, working dir and log, and runs `mls serve` in this process
(`server/command.py`, the command the `mls` program registers too). End of input without a
launch means it is not needed: it exits quietly.
"""

import importlib
import json
import os
import sys
from typing import Any

# Each is optional: a missing extra only makes the standby less warm.
WARM_MODULES = (
    "numpy",
    "joblib",
    "sklearn.base",
    "sklearn.linear_model",
    "sklearn.ensemble",
    "sklearn.tree",
    "sklearn.svm",
    "sklearn.neighbors",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.lifespan.on",
    "mlservice.server.command",
    "mlservice.server.runner",
    "mlservice.server.formats.sklearn",
    "mlservice.server.grpc.server",
)


def warm_up() -> None:
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # the launch imports it again, and reports what fails
            continue


def become(job: dict[str, Any]) -> None:
    """Take the launch's environment, working dir and log, as a fresh process would have."""
    os.environ.clear()
    os.environ.update(job["env"])
    log = os.open(job["log_path"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.chdir(job["cwd"])


def main() -> None:
    warm_up()
    raw = sys.stdin.buffer.read()
    if not raw.strip():
        sys.exit(0)
    job = json.loads(raw)
    become(job)
    from mlservice.server.command import main as serve

    sys.argv = ["mls", *job["argv"][1:]]  # as a cold `mls serve` sees it
    serve(job["argv"][2:])


if __name__ == "__main__":
    main()
