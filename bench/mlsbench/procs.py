"""Server processes: free ports, CPU pinning, readiness, CPU accounting, clean shutdown."""

import contextlib
import dataclasses
import os
import pathlib
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence

import httpx

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A port the kernel reports free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(argv: Sequence[str], core: int | None) -> list[str]:
    """`argv` run under `taskset -c core` (children inherit the mask), or as is when no core."""
    if core is None:
        return list(argv)
    return ["taskset", "-c", str(core), *argv]


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                text = (task / "children").read_text()
                kids.extend(int(k) for k in text.split())
    return kids


def _ticks(pid: int) -> int:
    """utime + stime of a live process plus cutime + cstime of the children it has reaped,
    in clock ticks (0 once it is gone)."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    # Field 2 (comm) may hold spaces; everything after its closing paren is space-separated.
    fields = stat[stat.rindex(")") + 2 :].split()
    return sum(int(f) for f in fields[11:15])


def tree_cpu_ms(pid: int) -> float:
    """CPU time of `pid` and its descendants, live (MLServer's inference pool) or reaped.

    A live child's time is not yet in its parent's cutime, so walking the live tree and adding
    each process's reaped-children time counts everything once.
    """
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += _ticks(current)
        todo.extend(_children(current))
    return total * 1000.0 / CLOCK_TICKS


def core_busy_ms(core: int) -> float:
    """Time core `core` spent not idle since boot, from /proc/stat, whoever ran on it."""
    for line in pathlib.Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name == f"cpu{core}":
            # user nice system idle iowait irq softirq steal: idle and iowait are not busy.
            ticks = [int(v) for v in values[:8]]
            return (sum(ticks) - ticks[3] - ticks[4]) * 1000.0 / CLOCK_TICKS
    raise ValueError(f"/proc/stat has no line for core {core}")


@dataclasses.dataclass(frozen=True)
class CpuSample:
    server_ms: float
    core_busy_ms: float | None
    at: float


@dataclasses.dataclass(frozen=True)
class CpuUse:
    """What the server burned over a run, and how much of its core other processes took."""

    server_ms: float
    others_pct: float | None


def sample(pid: int, core: int | None) -> CpuSample:
    busy = None if core is None else core_busy_ms(core)
    return CpuSample(tree_cpu_ms(pid), busy, time.monotonic())


def used(before: CpuSample, after: CpuSample) -> CpuUse:
    """The server's CPU between two samples; with a pinned core, the share of that core's wall
    time that went to anything but the server (other jobs on the machine: a noisy row)."""
    server = after.server_ms - before.server_ms
    if before.core_busy_ms is None or after.core_busy_ms is None:
        return CpuUse(server, None)
    wall_ms = (after.at - before.at) * 1000.0
    others = max(0.0, after.core_busy_ms - before.core_busy_ms - server)
    return CpuUse(server, 100.0 * others / wall_ms if wall_ms > 0 else None)


def prioritize(pid: int, nice: int) -> None:
    """Sets `nice` on `pid` and on its autogroup: with autogroups on (Debian's default) each
    session competes as one unit, so a process's own niceness alone does not beat other jobs."""
    os.setpriority(os.PRIO_PROCESS, pid, nice)
    with contextlib.suppress(OSError):
        pathlib.Path(f"/proc/{pid}/autogroup").write_text(str(nice))


@dataclasses.dataclass
class ServerProcess:
    """A started server: its process, where it listens and where its output goes."""

    name: str
    proc: subprocess.Popen[bytes]
    base_url: str
    log_path: pathlib.Path

    def log_tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def wait_ready(server: ServerProcess, *, path: str, timeout: float) -> None:
    """Polls `path` until it answers 200; raises RuntimeError on exit or after `timeout` s."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=server.base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.proc.poll() is not None:
                raise RuntimeError(
                    f"server {server.name} exited with code {server.proc.returncode} before it "
                    f"was ready; log tail:\n{server.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if client.get(path).status_code == 200:
                    return
            time.sleep(0.2)
    raise RuntimeError(
        f"server {server.name} was not ready at {path} within {timeout:.0f} s; "
        f"log tail:\n{server.log_tail()}"
    )


@contextlib.contextmanager
def running(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    env: Mapping[str, str],
    cwd: pathlib.Path,
    log_path: pathlib.Path,
    nice: int = 0,
) -> Iterator[ServerProcess]:
    """Starts `argv` in its own process group and kills the whole group on the way out."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if nice:
        # A new session is a new autogroup, which inherits no priority from ours.
        prioritize(proc.pid, nice)
    server = ServerProcess(name, proc, f"http://127.0.0.1:{port}", log_path)
    try:
        yield server
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM to the group `proc` leads, SIGKILL after `grace` s: no server outlives the
    benchmark. A process that leads no group gets the signals itself."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            if proc.poll() is None:
                proc.send_signal(sig)
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # The leader can exit before its workers (MLServer's inference pool): sweep the group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
