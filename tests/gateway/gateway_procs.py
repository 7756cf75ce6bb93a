"""Real processes for the proxy tests: the gateway (`python -m mlservice.gateway`) and small
upstream servers, each on a free loopback port it reports, stopped by its fixture."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.polling import WaitTimeout, wait_until

HERE = Path(__file__).parent
TOKEN = "test-token"
START_TIMEOUT = 30.0


@dataclass
class Proc:
    proc: subprocess.Popen[bytes]
    log: Path
    urls: list[str] = field(default_factory=list)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def port(self) -> int:
        return int(self.urls[0].rsplit(":", 1)[1])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def spawn(argv: list[str], *, log: Path, pattern: str, count: int = 1) -> Proc:
    """Start `argv` and wait until its log shows `count` URLs matching `pattern`."""
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    started = Proc(proc, log)

    def reported() -> list[str]:
        found: list[str] = re.findall(pattern, started.log_text())
        if len(found) >= count:
            return found[:count]
        if proc.poll() is not None:
            raise RuntimeError(f"{argv[:3]} exited {proc.returncode}:\n{started.log_text()}")
        return []

    try:
        started.urls = wait_until(
            reported,
            timeout=START_TIMEOUT,
            interval=0.02,
            message=lambda: f"{argv[:3]} to report its address:\n{started.log_text()}",
        )
    except WaitTimeout:
        started.stop()
        raise
    return started


def start_upstream(name: str, logs: Path) -> Proc:
    argv = [sys.executable, str(HERE / "upstream_app.py"), name]
    return spawn(argv, log=logs / f"upstream-{name}.log", pattern=r"listening on (http://\S+)")


@dataclass
class Gateway:
    proc: Proc
    request_logs: Path

    @property
    def url(self) -> str:
        return self.proc.urls[0]

    @property
    def admin_url(self) -> str:
        return self.proc.urls[1]

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.admin_url, headers={"authorization": f"Bearer {TOKEN}"}, timeout=10
        )

    def put(self, snapshot: dict[str, Any]) -> None:
        with self.admin() as admin:
            answer = admin.put("/admin/routes", json=snapshot)
        assert answer.status_code == 200, answer.text

    def metrics(self) -> str:
        return httpx.get(f"{self.admin_url}/metrics").text


def start_gateway(tmp: Path, *args: str) -> Gateway:
    token = tmp / "token"
    token.write_text(TOKEN + "\n")
    logs = tmp / "requests"
    argv = [sys.executable, "-m", "mlservice.gateway", "--token-file", str(token)]
    argv += ["--port", "0", "--admin-port", "0", "--request-logs", str(logs), *args]
    proc = spawn(argv, log=tmp / "gateway.log", pattern=r"on (http://127\.0\.0\.1:\d+)", count=2)
    return Gateway(proc, logs)


def start_grpc_gateway(tmp: Path, *args: str) -> tuple[Gateway, str]:
    """A gateway with an h2c port, and its gRPC target (`127.0.0.1:PORT`)."""
    running = start_gateway(tmp, "--grpc-port", "0", *args)
    found = wait_until(
        lambda: re.search(r"gRPC \(h2c\) on http://(127\.0\.0\.1:\d+)", running.proc.log_text()),
        timeout=10,
        message="the gateway to report its gRPC port",
    )
    return running, found.group(1)


def revision(
    rid: str,
    *upstreams: Proc | str,
    release: str = "v1",
    service: str = "svc",
    namespace: str = "ns",
    component: str = "predict",
    **extra: Any,
) -> dict[str, Any]:
    """A snapshot revision routed to `upstreams` (running servers, or plain addresses)."""
    endpoints = []
    for i, up in enumerate(upstreams):
        address = up if isinstance(up, str) else up.urls[0].removeprefix("http://")
        endpoints.append({"replica": f"{rid}-r{i}", "address": address})
    return {
        "id": rid,
        "namespace": namespace,
        "service": service,
        "component": component,
        "release": release,
        "endpoints": endpoints,
        **extra,
    }


def route(host: str, *backends: tuple[str, str, int], **extra: Any) -> dict[str, Any]:
    return {
        "host": host,
        "kind": extra.pop("kind", "service"),
        "namespace": extra.pop("namespace", "ns"),
        "service": extra.pop("service", "svc"),
        "backends": [{"revision": r, "release": rel, "percent": p} for r, rel, p in backends],
        **extra,
    }


def snapshot(
    version: int, revisions: list[dict[str, Any]], routes: list[dict[str, Any]]
) -> dict[str, Any]:
    return {"version": version, "revisions": revisions, "routes": routes}
