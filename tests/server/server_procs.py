"""Starting real `mls serve` processes on free loopback ports, and stopping them.

The server is started with `--port 0` (or `--workers N` on a port it reserves) and logs the
address it bound, so no port is guessed and no two tests can race for one.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.polling import wait_until

MODELS = Path(__file__).parent / "models"  # the custom model.py files the tests serve
ADDRESS = re.compile(r"on http://127\.0\.0\.1:(\d+)")
START_TIMEOUT = 90.0


@dataclass
class Served:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class Launcher:
    """Starts `python -m mlservice serve` processes; `close()` stops every one still running."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[Served] = []

    def start(
        self,
        model_dir: Path,
        *args: str,
        name: str,
        env: dict[str, str] | None = None,
        wait_ready: bool = True,
    ) -> Served:
        argv = [sys.executable, "-m", "mlservice", "serve", str(model_dir), "--name", name]
        argv += [*args, "--port", "0"] if "--port" not in args else list(args)
        return self.spawn(argv, name=name, env=env, wait_ready=wait_ready)

    def spawn(
        self,
        argv: list[str],
        *,
        name: str,
        env: dict[str, str] | None = None,
        wait_ready: bool = True,
    ) -> Served:
        """Run `argv` (a server that logs its address) and wait until it answers."""
        log = self.logs / f"{name}-{len(self.started)}.log"
        environment = {**os.environ, **(env or {})}
        with log.open("wb") as sink:
            proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, env=environment)
        served = Served("", proc, log)
        self.started.append(served)
        served.url = f"http://127.0.0.1:{_wait_for_port(served)}"
        _wait_until_up(served, path="/v2/health/ready" if wait_ready else "/v2/health/live")
        return served

    def close(self) -> None:
        for served in self.started:
            served.stop()


def _wait_for_port(served: Served) -> int:
    def reported() -> int | None:
        match = ADDRESS.search(served.log_text())
        if match:
            return int(match.group(1))
        if served.proc.poll() is not None:
            raise RuntimeError(f"mls serve exited {served.proc.returncode}:\n{served.log_text()}")
        return None

    return wait_until(
        reported,
        timeout=START_TIMEOUT,
        message=lambda: f"mls serve to report its address:\n{served.log_text()}",
    )


def _wait_until_up(served: Served, *, path: str) -> None:
    with httpx.Client(base_url=served.url, timeout=5.0) as client:

        def answers() -> bool:
            if served.proc.poll() is not None:
                raise RuntimeError(f"mls serve exited:\n{served.log_text()}")
            try:
                return client.get(path).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(
            answers,
            timeout=START_TIMEOUT,
            message=lambda: f"mls serve to answer {path}:\n{served.log_text()}",
        )


def metric(text: str, series: str) -> float:
    """The value of one exposition line, e.g. `mls_batch_size_count{model="m"}`; 0 if absent."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
