"""Readiness checks against a replica on loopback.

The default check (no readinessProbe) asks `GET /v2/health/ready`; a server that answers 404
does not speak V2, and having answered at all it is up, so it is checked by TCP connect from
then on.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Literal

from mlservice.engine.local.config import LocalEngineConfig
from mlservice.runtime import RenderedContainer
from mlservice.runtime.replica import DEFAULT_PORT

DEFAULT_READY_PATH = "/v2/health/ready"
HOST = "127.0.0.1"

Kind = Literal["http", "tcp", "default"]


@dataclass(frozen=True)
class Check:
    kind: Kind
    port: int
    path: str = DEFAULT_READY_PATH
    timeout: float = 1.0


@dataclass(frozen=True)
class Outcome:
    ok: bool
    fall_back_to_tcp: bool = False  # the default check learnt the server has no V2 health path


async def run_check(check: Check) -> Outcome:
    try:
        return await asyncio.wait_for(_run(check), check.timeout)
    except (OSError, TimeoutError, ValueError):
        return Outcome(ok=False)


async def _run(check: Check) -> Outcome:
    if check.kind == "tcp":
        await _connect_and_close(check.port)
        return Outcome(ok=True)
    status = await http_status(check.port, check.path)
    if check.kind == "default" and status == 404:
        return Outcome(ok=True, fall_back_to_tcp=True)
    # Kubernetes counts any 2xx or 3xx as success.
    return Outcome(ok=200 <= status < 400)


async def http_status(port: int, path: str) -> int:
    """The status code of `GET path` (HTTP/1.1, connection closed after the status line)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode("latin-1"))
        await writer.drain()
        status_line = await reader.readline()
    finally:
        await _close(writer)
    parts = status_line.split()
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        raise ValueError(f"not an HTTP status line: {status_line!r}")
    return int(parts[1])


async def _connect_and_close(port: int) -> None:
    _, writer = await asyncio.open_connection(HOST, port)
    await _close(writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


@dataclass(frozen=True)
class ProbePlan:
    check: Check
    initial_delay: float
    period: float
    success_threshold: int
    failure_threshold: int
    startup_period: float | None = None  # until first ready, when the probe sets no period

    def delay(self, *, ready: bool) -> float:
        """Seconds to the next check: quick before the replica is first seen ready."""
        if ready or self.startup_period is None:
            return self.period
        return min(self.period, self.startup_period)


def plan_probe(
    container: RenderedContainer, *, is_server: bool, port: int, config: LocalEngineConfig
) -> ProbePlan | None:
    """How to check a container's readiness; None means "ready once started" (a sidecar
    without a readinessProbe). `port` is where the server container really listens."""
    probe = container.readiness_probe
    if probe is None:
        if not is_server:
            return None
        check = Check("default", port, timeout=config.probe_timeout)
        return ProbePlan(check, 0.0, config.probe_period, 1, 3, config.startup_probe_period)
    timeout = probe.timeout_seconds or config.probe_timeout
    target = _target_port(container, probe.port, is_server=is_server, port=port)
    if probe.http_path is not None:
        check = Check("http", target, path=probe.http_path, timeout=timeout)
    else:
        check = Check("tcp", target, timeout=timeout)
    return ProbePlan(
        check,
        initial_delay=probe.initial_delay_seconds or 0.0,
        period=probe.period_seconds or config.probe_period,
        success_threshold=probe.success_threshold or 1,
        failure_threshold=probe.failure_threshold or 3,
        startup_period=None if probe.period_seconds else config.startup_probe_period,
    )


def _target_port(
    container: RenderedContainer, ref: int | None, *, is_server: bool, port: int
) -> int:
    """A probe names the container's declared port (None: the serving port, as rendered);
    the server's declared port is really the engine-given `port`, others are literal."""
    declared = container.ports[0].container_port if container.ports else DEFAULT_PORT
    number = declared if ref is None else ref
    return port if is_server and number == declared else number
