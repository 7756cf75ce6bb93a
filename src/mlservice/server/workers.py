"""`--workers N`: N server processes on one port, one supervisor, metrics merged across them.

Each worker binds the port itself with SO_REUSEPORT, so the kernel spreads connections evenly
(a shared accept socket lets one busy process take most of them). The supervisor holds a bound,
non-listening socket on the port to reserve it, points every worker at one Prometheus
multiprocess directory, and stops them all when one dies or when it is told to stop.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

from mlservice.server.config import ServerConfig
from mlservice.server.formats import detect
from mlservice.server.forward import PredictorConfig
from mlservice.server.metrics import MULTIPROC_ENV, mark_worker_dead

CONFIG_ENV = "MLS_SERVE_WORKER_CONFIG"
log = logging.getLogger("mlservice.server")
_PR_SET_PDEATHSIG = 1


def supervise(config: ServerConfig) -> int:
    from mlservice.server.runner import bind_socket

    detect(config.model_dir, forced=config.format)  # fail here, once, not in every worker
    reservation = bind_socket(config.host, config.port, reuse_port=True)
    port = reservation.getsockname()[1]
    grpc_port, grpc_reservation = config.grpc_port, None
    if grpc_port is not None:  # one port for every worker, even when 0 asked for any
        grpc_reservation = bind_socket(config.host, grpc_port, reuse_port=True)
        grpc_port = grpc_reservation.getsockname()[1]
    worker_config = dataclasses.replace(
        config, port=port, grpc_port=grpc_port, workers=1, reuse_port=True
    )
    metrics_dir = tempfile.mkdtemp(prefix="mls-metrics-")
    env = {**os.environ, MULTIPROC_ENV: metrics_dir, CONFIG_ENV: _dump(worker_config)}
    argv = [sys.executable, "-m", "mlservice.server.workers"]
    children = [
        subprocess.Popen(argv, env=env, preexec_fn=_die_with_parent) for _ in range(config.workers)
    ]
    log.info("mls serve: %d workers on http://%s:%d", config.workers, config.host, port)
    try:
        return _wait(children)
    finally:
        reservation.close()
        if grpc_reservation is not None:
            grpc_reservation.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _wait(children: list[subprocess.Popen[bytes]]) -> int:
    stopping = False
    running = {child.pid: child for child in children}

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        _signal_all(list(running.values()))

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    while running:
        pid, status = os.wait()
        if running.pop(pid, None) is None:
            continue
        mark_worker_dead(pid)
        exit_code = os.waitstatus_to_exitcode(status)
        if not stopping:
            # One worker gone means the replica is degraded: stop all, let the engine restart.
            log.error("worker %d exited with %d; stopping the others", pid, exit_code)
            stopping = True
            code = exit_code or 1
            _signal_all(list(running.values()))
    return code


def _signal_all(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)


def _die_with_parent() -> None:
    """Runs in the child before exec: take SIGTERM if the supervisor dies without cleanup."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _dump(config: ServerConfig) -> str:
    doc: dict[str, Any] = dataclasses.asdict(config)
    doc["model_dir"] = str(config.model_dir)
    return json.dumps(doc)


def _load(raw: str) -> ServerConfig:
    doc = json.loads(raw)
    doc["model_dir"] = Path(doc["model_dir"])
    if doc.get("predictor") is not None:
        doc["predictor"] = PredictorConfig(**doc["predictor"])
    return ServerConfig(**doc)


def main() -> None:
    from mlservice.errors import MLServiceError
    from mlservice.server.runner import run

    try:
        code = run(_load(os.environ[CONFIG_ENV]))
    except MLServiceError as exc:
        print(f"mls serve worker: {exc.message}", file=sys.stderr)
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
