"""`mls up` as a child process, for notebooks, scripts and end-to-end tests.

    with UpProcess(tmp_home) as up:  # every port picked free; see endpoints.json
        client = up.client()

It waits until the child has recorded its addresses in `endpoints.json` and answers `/healthz`,
and stops it with SIGINT (SIGKILL if it hangs), so nothing outlives the `with` block.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import httpx

from mlservice.client import Client
from mlservice.home import Home


class UpProcess:
    def __init__(
        self,
        home: Path | str,
        *,
        args: Sequence[str] = ("--api-port", "0", "--api-tls-port", "0", "--gateway-port", "0"),
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self.home = Home(Path(home).resolve())
        self.args = list(args)
        self.env = dict(os.environ if env is None else env)
        self.startup_timeout = startup_timeout
        self.log_path = self.home.root / "up.log"
        self.endpoints: dict[str, Any] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def api(self) -> str:
        return str(self.endpoints["api"])

    @property
    def token(self) -> str:
        return self.home.token.read_text().strip()

    @property
    def pid(self) -> int:
        assert self._process is not None, "not started"
        return self._process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, **options: Any) -> Client:
        return Client(self.api, token=self.token, home=self.home, **options)

    def start(self) -> UpProcess:
        self.home.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Owner-only, as everything in the data dir (`mls up` makes the rest so).
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._log = os.fdopen(fd, "ab")
        command = [sys.executable, "-m", "mlservice", "up", "--home", str(self.home.root)]
        self._process = subprocess.Popen(
            [*command, *self.args], stdout=self._log, stderr=subprocess.STDOUT, env=self.env
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"mls up exited with {self._process.returncode}:\n{self.log()[-2000:]}"
                )
            if self._answers():
                return
            time.sleep(0.05)
        raise TimeoutError(f"mls up did not answer within {self.startup_timeout:g}s")

    def _answers(self) -> bool:
        try:
            recorded = json.loads(self.home.endpoints.read_text())
        except (OSError, ValueError):
            return False
        if recorded.get("pid") != self.pid:
            return False  # left over from an earlier run
        self.endpoints = recorded
        try:
            return httpx.get(f"{self.api}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGINT, as Ctrl-C would; SIGKILL after `timeout`. The exit code."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
        return None if process is None else process.returncode

    def __enter__(self) -> UpProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
