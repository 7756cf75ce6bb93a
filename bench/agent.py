"""The agent benchmark: what `mls agent` (a pod's sidecar) adds to a request, beside the direct
server and the gateway, in one run.

Usage: .venv/bin/python bench/agent.py [--quick] [--duration 10] [--rounds 3] [--no-record]
Trains the iris model, starts one `mls serve` replica (one worker, core 0), then `mls agent` in
front of it twice (plain, and with the request log on: every request's two CloudEvents captured
and appended to a local file) and the gateway (`python -m mlservice.gateway`, fed a route), each
on core 1. A closed-loop client on core 1 (one keep-alive connection, one request at a time,
the pre-encoded V2 REST infer body) measures each target in turn, in rounds, so slow drifts of
a shared machine fall on every target alike. Reports p50/p99 per target (the median of the
rounds) and what each adds over the direct row: the median over rounds of (target - direct)
in the same round, so a round slowed by other work on the machine is compared with itself.
The target is <= 0.5 ms added p50 (the gateway's own). A full run appends the table, dated,
to RESULTS.md.

The client is this Python process, not wrk (not installed here): its own cost per request is
the same in every row, so the differences between rows are the proxies'.
"""

import argparse
import contextlib
import os
import pathlib
import socket
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import gateway as gateway_bench
from mlsbench import iris, procs, report

BENCH_DIR = pathlib.Path(__file__).resolve().parent
TARGET_ADDED_P50_MS = 0.5
REPLICA_CORE, PROXY_CORE = 0, 1
INFER = "/v2/models/iris/infer"


@dataclass(frozen=True)
class Sample:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_request: float | None


@dataclass(frozen=True)
class Row:
    target: str
    samples: tuple[Sample, ...]

    def added(self, direct: "Row", field: str) -> float:
        """The median over rounds of this row's `field` minus the direct row's, round by round."""
        pairs = zip(self.samples, direct.samples, strict=True)
        return statistics.median(
            getattr(mine, field) - getattr(base, field) for mine, base in pairs
        )

    @property
    def p50_ms(self) -> float:
        return statistics.median(s.p50_ms for s in self.samples)

    @property
    def p99_ms(self) -> float:
        return statistics.median(s.p99_ms for s in self.samples)

    @property
    def rps(self) -> float:
        return sum(s.requests for s in self.samples) / sum(s.seconds for s in self.samples)

    @property
    def cpu_us(self) -> float | None:
        cpu = [s.cpu_us_per_request for s in self.samples if s.cpu_us_per_request is not None]
        return statistics.median(cpu) if cpu else None


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=4.0, help="seconds per target per round")
    p.add_argument("--warmup", type=float, default=0.5, help="seconds before each measurement")
    p.add_argument("--rounds", type=int, default=8, help="times every target is measured")
    p.add_argument("--quick", action="store_true", help="2 s rows, one round, nothing recorded")
    p.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    p.add_argument("--nice", type=int, default=0, help="priority for every process (root)")
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.rounds, args.no_record = 2.0, 0.5, 1, True
    return args


# -- the client -------------------------------------------------------------------------------
class Connection:
    """One keep-alive HTTP/1.1 connection sending the same request, timing each answer."""

    def __init__(self, port: int, request: bytes) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request = request
        self.buffer = b""

    def exchange(self) -> bytes:
        self.sock.sendall(self.request)
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._read()
        head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
        if not head.startswith(b"HTTP/1.1 200 "):
            raise RuntimeError(f"answered {head[:200]!r}")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")[1:]
            if line.lower().startswith(b"content-length:")
        )
        while len(self.buffer) < length:
            self._read()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return body

    def _read(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RuntimeError("the connection closed")
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


def request_for(body: bytes, host: str) -> bytes:
    head = f"POST {INFER} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
    return head.encode() + b"content-length: %d\r\n\r\n" % len(body) + body


def load(port: int, request: bytes, *, seconds: float, expected: int) -> list[int]:
    """Closed loop for `seconds`: nanoseconds per request."""
    conn = Connection(port, request)
    try:
        if iris.prediction_of(conn.exchange()) != expected:
            raise RuntimeError(f"port {port} answered a wrong class")
        took: list[int] = []
        clock = time.perf_counter_ns
        stop = clock() + int(seconds * 1e9)
        while (start := clock()) < stop:
            conn.exchange()
            took.append(clock() - start)
        return took
    finally:
        conn.close()


def measure(
    port: int, request: bytes, *, pid: int | None, expected: int, args: argparse.Namespace
) -> Sample:
    load(port, request, seconds=args.warmup, expected=expected)
    before = procs.tree_cpu_ms(pid) if pid else 0.0
    started = time.monotonic()
    took = sorted(load(port, request, seconds=args.duration, expected=expected))
    seconds = time.monotonic() - started
    cpu = (procs.tree_cpu_ms(pid) - before) * 1000 / len(took) if pid else None
    return Sample(
        requests=len(took),
        seconds=seconds,
        p50_ms=took[len(took) // 2] / 1e6,
        p99_ms=took[min(len(took) - 1, int(len(took) * 0.99))] / 1e6,
        cpu_us_per_request=cpu,
    )


# -- processes --------------------------------------------------------------------------------
@contextlib.contextmanager
def agent(
    upstream: str, work: pathlib.Path, *, name: str, logged: bool, nice: int
) -> Iterator[procs.ServerProcess]:
    port = procs.free_port()
    argv = [sys.executable, "-m", "mlservice", "agent", "--upstream", upstream]
    argv += ["--port", str(port), "--address", "127.0.0.1", "--service", "iris"]
    argv += ["--namespace", "default", "--release", "v1"]
    if logged:
        argv += ["--request-logs", str(work / f"{name}-requests")]
    with procs.running(
        name, procs.pinned(argv, PROXY_CORE), port=port, env=dict(os.environ), cwd=work,
        log_path=work / "logs" / f"{name}.log", nice=nice,
    ) as server:  # fmt: skip
        procs.wait_ready(server, path="/v2/models/iris/ready", timeout=30)
        yield server


def run(args: argparse.Namespace) -> str:
    work = BENCH_DIR / ".work" / "agent"
    work.mkdir(parents=True, exist_ok=True)
    case = iris.train(work / "model")
    body = case.v2_body()
    machine_before = report.machine()
    commit = gateway_bench.git_commit()
    if args.nice:
        procs.prioritize(os.getpid(), args.nice)
    os.sched_setaffinity(0, {PROXY_CORE})  # the client beside the proxies, as wrk would be
    samples: dict[str, list[Sample]] = {}
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(gateway_bench.replica(case, work, nice=args.nice))
        upstream = server.base_url.removeprefix("http://")
        targets: list[tuple[str, procs.ServerProcess | None, str]] = [
            ("direct", None, "iris.default.localhost")
        ]
        for name, logged in (("agent", False), ("agent+log", True)):
            proxy = stack.enter_context(
                agent(upstream, work, name=name.replace("+", "-"), logged=logged, nice=args.nice)
            )
            targets.append((name, proxy, "10.0.0.7:8012"))
        gw = stack.enter_context(gateway_bench.proxy("ours", upstream, work, nice=args.nice))
        targets.append(("gateway", gw, gateway_bench.HOST))
        for round_ in range(args.rounds):
            for name, proc, host in targets:
                port = int((proc or server).base_url.rsplit(":", 1)[1])
                sample = measure(
                    port,
                    request_for(body, host),
                    pid=proc.proc.pid if proc else None,
                    expected=case.expected,
                    args=args,
                )
                samples.setdefault(name, []).append(sample)
                print(
                    f"  round {round_ + 1} {name:10} p50 {sample.p50_ms:.3f} ms  "
                    f"p99 {sample.p99_ms:.3f} ms  {sample.requests / sample.seconds:,.0f} rps",
                    flush=True,
                )
    rows = [Row(name, tuple(found)) for name, found in samples.items()]
    return section(rows, args=args, machine_before=machine_before, commit=commit)


def section(rows: list[Row], *, args: argparse.Namespace, machine_before: str, commit: str) -> str:
    direct = next(r for r in rows if r.target == "direct")
    lines = [
        "| path | rps | p50 ms | p99 ms | added p50 ms | added p99 ms | proxy CPU us/req |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        added = ("", "") if r is direct else (
            f"{r.added(direct, 'p50_ms'):+.3f}", f"{r.added(direct, 'p99_ms'):+.3f}"
        )  # fmt: skip
        cpu = "" if r.cpu_us is None else f"{r.cpu_us:.0f}"
        lines.append(
            f"| {r.target} | {r.rps:,.0f} | {r.p50_ms:.3f} | {r.p99_ms:.3f} | {added[0]} "
            f"| {added[1]} | {cpu} |"
        )
    verdicts = []
    for r in rows:
        if r is not direct:
            extra = r.added(direct, "p50_ms")
            ok = "met" if extra <= TARGET_ADDED_P50_MS else "missed"
            verdicts.append(
                f"{r.target}: added p50 {extra:.3f} ms (target {TARGET_ADDED_P50_MS} ms: {ok})"
            )
    notes = [
        f"At commit {commit}; one `mls serve` replica (one worker, core "
        f"{REPLICA_CORE}); `mls agent` (plain; +log: `--request-logs`, both events of every "
        f"request captured and written to a local file) and the gateway on core {PROXY_CORE}, "
        "beside the client.",
        "Client: one keep-alive connection, one request at a time (concurrency 1), iris V2 REST "
        f"infer with one FP32 row; {args.rounds} round(s) of {args.duration:g} s per target after "
        f"{args.warmup:g} s warm-up, targets in turn; p50/p99 are the median over rounds, "
        "'added' the median over rounds of (target - direct) in the same round.",
        f"Machine before: {machine_before}.",
        *verdicts,
    ]
    return report.dated_section("agent", script="bench/agent.py", notes=notes, body=lines)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    report.publish(run(args), results=BENCH_DIR / "RESULTS.md", record=not args.no_record)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
