"""Keeping one container of a replica running: start, probe, classify exits, back off, restart.

Exits are told apart by cause. The memory watchdog's kill -> `OOMKilled`; "address in use" in
the log -> a fresh port and an immediate restart that is not a crash (or `PortConflict` for a
fixed port); anything else -> a crash, `CrashLoopBackOff` with the log tail, and exponential
backoff that resets once a process has stayed up for `stable_after` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from mlservice.engine.base import ContainerState, LogSpan, Phase
from mlservice.engine.local import logtail
from mlservice.engine.local.config import LocalEngineConfig
from mlservice.engine.local.paths import ReplicaDir
from mlservice.engine.local.pidfiles import ProcessRecord, write_record
from mlservice.engine.local.probes import ProbePlan, run_check
from mlservice.engine.local.process import Launch, ProcessHandle, ProcessSpawner
from mlservice.errors import LaunchError
from mlservice.runtime import RenderedContainer


class RunnerHost(Protocol):
    """What a container runner needs from its replica."""

    config: LocalEngineConfig
    spawner: ProcessSpawner
    dirs: ReplicaDir

    def claim_gpus(self, container: RenderedContainer) -> str | None: ...
    def claim_ports(self, container: RenderedContainer) -> str | None: ...
    def release_ports(self, container: RenderedContainer) -> None: ...
    def has_fixed_port(self, container: RenderedContainer) -> bool: ...
    def rotate_ports(self) -> None: ...
    def launch(self, container: RenderedContainer) -> Launch: ...
    def probe(self, container: RenderedContainer) -> ProbePlan | None: ...
    def changed(self) -> None: ...


@dataclass
class Backoff:
    base: float
    cap: float
    stable_after: float
    failures: int = 0

    def next_delay(self, uptime: float) -> float:
        if uptime >= self.stable_after:
            self.failures = 0
        self.failures += 1
        return float(min(self.base * 2.0 ** (self.failures - 1), self.cap))


@dataclass(frozen=True)
class _Status:
    phase: Phase = "Pending"
    ready: bool = False
    reason: str = ""
    message: str = ""


class ContainerRunner:
    def __init__(
        self,
        container: RenderedContainer,
        host: RunnerHost,
        *,
        memory_limit: int | None,
        adopted: ProcessHandle | None = None,
    ):
        cfg = host.config
        self.container = container
        self.memory_limit = memory_limit
        self.process: ProcessHandle | None = None
        self._adopted = adopted  # already running: supervised without starting it again
        self.restarts = 0
        self._host = host
        self._status = _Status()
        self._backoff = Backoff(cfg.backoff_base, cfg.backoff_cap, cfg.stable_after)
        self._stopping = asyncio.Event()
        self._oom: str | None = None
        self._address_retries = 0
        # Each start appends to the same log: where the current run began, and the span of
        # the run before it (`kubectl logs --previous`). An adopted run began who knows where.
        self._log_start = 0
        self._previous_log: LogSpan | None = None
        self._started_once = adopted is not None
        if adopted is not None:
            # It was serving a moment ago: ready until its probe says otherwise, as a running
            # pod stays ready across a restart of the control plane.
            self._status = _Status(phase="Running", ready=True)

    def state(self) -> ContainerState:
        s, proc = self._status, self.process
        return ContainerState(
            name=self.container.name,
            phase=s.phase,
            ready=s.ready,
            pid=proc.pid if proc and not proc.exited.done() else None,
            restarts=self.restarts,
            reason=s.reason,
            message=s.message,
            log_path=self._host.dirs.log(self.container.name),
            log_start=self._log_start,
            previous_log=self._previous_log,
        )

    async def run(self) -> None:
        while not self._stopping.is_set():
            delay = await self._attempt()
            if delay is None:
                await self._stopping.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)

    def request_stop(self) -> None:
        self._set(phase="Terminating", ready=False)
        self._stopping.set()

    def oom_kill(self, process: ProcessHandle, rss: int) -> None:
        """Called by the watchdog: `process`'s group used `rss` bytes, over the limit."""
        if process is not self.process or process.exited.done():
            return
        self._oom = (
            f"used {rss / 2**20:.0f}Mi of its {(self.memory_limit or 0) / 2**20:.0f}Mi limit"
        )
        process.signal_group(signal.SIGKILL)

    # -- one start ---------------------------------------------------------------------

    async def _attempt(self) -> float | None:
        """Start once and wait for the end; returns the delay before the next start, or None
        when the container cannot run at all (or is stopping)."""
        if self._adopted is not None:
            return await self._adopt(self._adopted)
        name = self.container.name
        unschedulable = self._host.claim_gpus(self.container)
        if unschedulable is not None:
            # As a pod no node can take: it waits, and starts when the GPUs are there.
            self._set(phase="Pending", reason="Unschedulable", message=unschedulable)
            return self._host.config.port_retry
        conflict = self._host.claim_ports(self.container)
        if conflict is not None:
            self._set(phase="PortConflict", reason="PortConflict", message=conflict)
            return self._host.config.port_retry
        try:
            launch = self._host.launch(self.container)
        except LaunchError as exc:
            self._host.release_ports(self.container)
            self._set(phase="Failed", reason="Failed", message=str(exc))
            return None
        self._new_run(launch.log_path)
        offset = self._log_start
        try:
            process = await self._host.spawner.spawn(launch)
        except OSError as exc:
            self._host.release_ports(self.container)
            return self._crashed(f"container {name} could not start: {exc}", uptime=0.0)
        code, uptime = await self._supervise(process)
        self._host.release_ports(self.container)
        # Not ready any more; the exit's classification below announces it with its reason.
        self._status = replace(self._status, ready=False)
        if self._stopping.is_set():
            return None
        return self._after_exit(code, uptime, logtail.tail(launch.log_path, since=offset))

    def _new_run(self, log_path: Path) -> None:
        """Rotate the log if it grew large; remember where the previous run's output is."""
        end = logtail.size(log_path)
        moved = logtail.rotate_if_large(log_path, self._host.config.log_max_bytes)
        if self._started_once:
            previous = logtail.rotated(log_path) if moved else log_path
            self._previous_log = LogSpan(previous, self._log_start, end)
        self._started_once = True
        self._log_start = logtail.size(log_path)

    async def _adopt(self, process: ProcessHandle) -> float | None:
        """Supervise a process a previous control plane started; the replica kept its ports."""
        self._adopted = None
        log_path = self._host.dirs.log(self.container.name)
        offset = logtail.size(log_path)
        code, uptime = await self._supervise(process, adopted=True)
        self._host.release_ports(self.container)
        self._status = replace(self._status, ready=False)
        if self._stopping.is_set():
            return None
        return self._after_exit(code, uptime, logtail.tail(log_path, since=offset))

    async def _supervise(
        self, process: ProcessHandle, *, adopted: bool = False
    ) -> tuple[int, float]:
        self.process = process
        pidfile = self._host.dirs.pidfile(self.container.name)
        write_record(pidfile, ProcessRecord(process.pid, process.start_time))
        started = time.monotonic()
        # The last exit's reason and log tail stay until the new process is ready: a replica
        # in a crash loop keeps saying why, instead of flickering to an empty message.
        if not adopted:
            self._set(phase="Starting", ready=False)
        probing = asyncio.create_task(self._probe_loop())
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            waits: list[asyncio.Future[Any]] = [process.exited, stopping]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            probing.cancel()
            stopping.cancel()
            code = await process.terminate(self._host.config.stop_grace)
            pidfile.unlink(missing_ok=True)
        return code, time.monotonic() - started

    def _after_exit(self, code: int, uptime: float, tail: str) -> float:
        name = self.container.name
        if self._oom is not None:
            detail, self._oom = self._oom, None
            delay = self._count_restart(uptime)
            message = f"container {name} was killed: it {detail}. Last log lines:\n{tail}"
            self._set(phase="OOMKilled", reason="OOMKilled", message=message)
            return delay
        if logtail.says_address_in_use(tail):
            if self._host.has_fixed_port(self.container):
                message = f"container {name} found its port in use. Last log lines:\n{tail}"
                self._set(phase="PortConflict", reason="PortConflict", message=message)
                return self._host.config.port_retry
            if self._address_retries < self._host.config.address_in_use_retries:
                self._address_retries += 1
                self._host.rotate_ports()
                self._set(phase="Pending", reason="AddressInUse", message=tail)
                return 0.0
        self._address_retries = 0
        return self._crashed(f"container {name} {_describe_exit(code)}", uptime=uptime, tail=tail)

    def _crashed(self, what: str, *, uptime: float, tail: str = "") -> float:
        delay = self._count_restart(uptime)
        message = f"{what}; restarting in {delay:.1f}s."
        if tail:
            message += f" Last log lines:\n{tail}"
        self._set(phase="CrashLoopBackOff", reason="CrashLoopBackOff", message=message)
        return delay

    def _count_restart(self, uptime: float) -> float:
        self.restarts += 1
        return self._backoff.next_delay(uptime)

    # -- readiness ---------------------------------------------------------------------

    async def _probe_loop(self) -> None:
        plan = self._host.probe(self.container)
        if plan is None:
            self._set(phase="Running", ready=True, reason="", message="")
            return
        await asyncio.sleep(plan.initial_delay)
        check, successes, failures, seen_ready = plan.check, 0, 0, False
        while True:
            outcome = await run_check(check)
            if outcome.fall_back_to_tcp:
                check = replace(check, kind="tcp")
            successes, failures = (successes + 1, 0) if outcome.ok else (0, failures + 1)
            if not self._status.ready and successes >= plan.success_threshold:
                self._address_retries = 0
                self._set(phase="Running", ready=True, reason="", message="")
            elif self._status.ready and failures >= plan.failure_threshold:
                self._set(ready=False, reason="Unready", message="readiness probe failing")
            seen_ready = seen_ready or self._status.ready
            await asyncio.sleep(plan.delay(ready=seen_ready))

    def _set(self, **changes: object) -> None:
        if self._stopping.is_set() and changes.get("phase", "Terminating") != "Terminating":
            return  # once stopping, only Terminating is news
        new = replace(self._status, **changes)  # type: ignore[arg-type]
        if new != self._status:
            self._status = new
            self._host.changed()


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"
