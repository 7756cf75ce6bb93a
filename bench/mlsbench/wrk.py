"""HTTP/1.1 load with wrk: a Lua script that POSTs a pre-encoded body and reports as JSON."""

import dataclasses
import pathlib
import subprocess

import orjson

from mlsbench.procs import pinned

MARKER = "MLSBENCH "

# wrk calls done() once, after the run; percentiles are microseconds. Printing JSON keeps the
# parsing exact instead of scraping wrk's human summary.
LUA_TEMPLATE = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [{eq}[{body}]{eq}]

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{marker}{{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
    .. '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclasses.dataclass(frozen=True)
class LoadResult:
    """One load run: throughput, latency and failures, whatever the load generator."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    suspect: str = ""
    """Why the latency columns cannot be trusted, when the generator contradicted itself."""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def lua_script(body: bytes) -> str:
    """The wrk script sending `body`, quoted with a Lua long bracket the body cannot close."""
    text = body.decode()
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return LUA_TEMPLATE.format(eq="=" * level, body=text, marker=MARKER)


def parse(stdout: str) -> LoadResult:
    """The LoadResult from wrk's output; raises ValueError when the done() line is missing."""
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            data = orjson.loads(line[len(MARKER) :])
            errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
            return LoadResult(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                errors=errors,
            )
    raise ValueError(f"wrk printed no {MARKER.strip()} line; its output was:\n{stdout[-1500:]}")


def run(
    url: str, *, script: pathlib.Path, connections: int, seconds: int, core: int | None
) -> LoadResult:
    """wrk with one thread (it has one core) and `connections` keep-alive connections."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    argv += ["-s", str(script), url]
    result = subprocess.run(
        pinned(argv, core), capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"wrk against {url} exited {result.returncode}: {result.stderr[-500:]}")
    return parse(result.stdout)
