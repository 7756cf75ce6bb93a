"""Native `.mar` serving against the real TorchServe, on the digits example's model store.

Usage: .venv/bin/python bench/torchserve.py [--concurrency 1,16,64] [--duration 5] [--no-record]
Builds the store with examples/torchserve/make_models.py, then starts each server alone (one
replica, pinned to core 0): `mls serve` on the store (native: the handler in-process, no JVM) and
runtime torchserve-java (TorchServe 0.12's Java frontend and Python worker behind our V1 adapter).
Each must answer the 3 of examples/data/3.png; then V1 `{"instances": [{"data": <base64 PNG>}]}`
is loaded at each concurrency from core 1 (wrk when installed, else an asyncio client here), with
the server tree's CPU and, after the load, its RSS (every process of the replica). A full run
appends the tables, dated, to bench/RESULTS.md. Targets (issue 15): native >= 2x TorchServe's rps
at c=16 with p99 no worse.
"""

import argparse
import asyncio
import base64
import dataclasses
import datetime
import json
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import time

import httpx

from mlsbench import procs, report, wrk
from mlsbench.wrk import LoadResult

BENCH_DIR = pathlib.Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
PNG = REPO_DIR / "examples" / "data" / "3.png"
PATH = "/v1/models/digits:predict"
SERVERS = ("native", "torchserve-java")
TARGET_RATIO = 2.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--concurrency", default="1,16,64", help="comma list of connections")
    p.add_argument("--duration", type=int, default=5, help="seconds per measured run")
    p.add_argument("--warmup", type=int, default=2, help="seconds of load before measuring")
    p.add_argument("--servers", default=",".join(SERVERS), help="comma list")
    p.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    p.add_argument("--results", type=pathlib.Path, default=BENCH_DIR / "RESULTS.md")
    args = p.parse_args(argv)
    args.concurrency = tuple(int(c) for c in args.concurrency.split(","))
    args.servers = [s for s in args.servers.split(",") if s]
    return args


def body() -> bytes:
    return json.dumps(
        {"instances": [{"data": base64.b64encode(PNG.read_bytes()).decode()}]}
    ).encode()


def argv_of(name: str, store: pathlib.Path, port: int) -> list[str]:
    if name == "native":
        return [sys.executable, "-m", "mlservice", "serve", str(store), "--name", "digits",
                "--format", "torchserve", "--port", str(port)]  # fmt: skip
    return [sys.executable, "-m", "mlservice.runtime.builtin.torchserve", "--port", str(port),
            "--model-store", str(store)]  # fmt: skip


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{pathlib.Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return env


def tree_rss_mb(pid: int) -> float:
    """Resident memory of `pid` and every descendant (the JVM and its workers too)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            for line in pathlib.Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
        todo.extend(procs._children(current))
    return total / 1024


def check(url: str, payload: bytes) -> None:
    answer = httpx.post(url, content=payload, timeout=30).json()
    label = answer["predictions"][0]["label"]
    if label != 3:
        raise RuntimeError(f"{url} predicted {label}, not the 3 of {PNG.name}")


async def _pyload(url: str, payload: bytes, connections: int, seconds: float) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        end = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < end:
                start = time.perf_counter()
                try:
                    response = await client.post(url, content=payload, headers=headers)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append((time.perf_counter() - start) * 1000)
                else:
                    errors += 1

        began = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        took = time.monotonic() - began
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0

    return LoadResult(len(latencies), took, pct(0.5), pct(0.99), errors)


def load(
    url: str, payload: bytes, *, connections: int, seconds: int, work: pathlib.Path
) -> LoadResult:
    if shutil.which("wrk"):
        script = work / "digits.lua"
        script.write_text(wrk.lua_script(payload))
        return wrk.run(url, script=script, connections=connections, seconds=seconds, core=1)
    return asyncio.run(_pyload(url, payload, connections, seconds))


@dataclasses.dataclass
class Measured:
    rows: list[report.Row]
    rss_mb: float
    start_s: float


def measure(
    name: str, store: pathlib.Path, args: argparse.Namespace, work: pathlib.Path
) -> Measured:
    port = procs.free_port()
    payload = body()
    cwd = work / name
    cwd.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    with procs.running(
        name,
        procs.pinned(argv_of(name, store, port), 0),
        port=port,
        env=server_env(),
        cwd=cwd,
        log_path=work / "logs" / f"{name}.log",
    ) as server:
        procs.wait_ready(server, path="/v2/health/ready", timeout=180)
        start_s = time.monotonic() - began
        url = server.base_url + PATH
        check(url, payload)
        load(url, payload, connections=16, seconds=args.warmup, work=work)
        rows = []
        for c in args.concurrency:
            before = procs.sample(server.proc.pid, 0)
            result = load(url, payload, connections=c, seconds=args.duration, work=work)
            cpu = procs.used(before, procs.sample(server.proc.pid, 0))
            row = report.Row(name, "rest", c, result, cpu)
            print(f"  {name} c={c}: {result.rps:,.0f} rps, p99 {result.p99_ms:.2f} ms, "
                  f"{result.errors} errors{row.noise_note()}", flush=True)  # fmt: skip
            rows.append(row)
        rss = tree_rss_mb(server.proc.pid)
        check(url, payload)
    return Measured(rows, rss, start_s)


def summary(measured: dict[str, Measured]) -> list[str]:
    lines = ["| server | replica RSS MB | start to ready s |", "|---|---:|---:|"]
    lines += [f"| {n} | {m.rss_mb:,.0f} | {m.start_s:.1f} |" for n, m in measured.items()]
    if {"native", "torchserve-java"} <= set(measured):
        native = {r.concurrency: r for r in measured["native"].rows}
        java = {r.concurrency: r for r in measured["torchserve-java"].rows}
        lines += ["", "| concurrency | rps native / TorchServe | p99 native / TorchServe ms | "
                  "target |", "|---:|---:|---:|---|"]  # fmt: skip
        for c in sorted(set(native) & set(java)):
            ratio = native[c].load.rps / max(java[c].load.rps, 1e-9)
            p99 = f"{native[c].load.p99_ms:.2f} / {java[c].load.p99_ms:.2f}"
            met = ratio >= TARGET_RATIO and native[c].load.p99_ms <= java[c].load.p99_ms
            target = (f"{TARGET_RATIO:g}x, p99 no worse: {'met' if met else 'missed'}"
                      if c == 16 else "")  # fmt: skip
            lines.append(f"| {c} | {ratio:.2f}x | {p99} | {target} |")
    return lines


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    work = BENCH_DIR / ".work" / "torchserve"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    subprocess.run([sys.executable, str(REPO_DIR / "examples" / "torchserve" / "make_models.py"),
                    str(work / "stores")], check=True, capture_output=True)  # fmt: skip
    os.sched_setaffinity(0, {1})  # the load generator (and this script) on core 1
    machine_line = report.machine()
    measured = {}
    for name in args.servers:
        print(f"{name}:", flush=True)
        measured[name] = measure(name, work / "stores" / "digits", args, work)
    rows = [r for m in measured.values() for r in m.rows]
    commit = subprocess.run(["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    generator = "wrk" if shutil.which("wrk") else "an asyncio httpx client (wrk is not installed)"
    text = "\n".join([
        f"## {datetime.date.today().isoformat()} torchserve",
        "",
        f"- Machine: {machine_line} (at the start).",
        f"- Command: `{shlex.join(['python', 'bench/torchserve.py', *argv])}`",
        f"- At commit {commit or 'unknown'}; the digits store of examples/torchserve (a CNN on 8x8 "
        "digits, custom BaseHandler, batchSize 1); V1 with one base64 PNG instance per request. "
        "native: `mls serve --format torchserve`; torchserve-java: TorchServe 0.12.0 (Java 17) "
        "behind our adapter, one worker. Server tree on core 0, load from core 1 with "
        f"{generator}; {args.duration} s per row after {args.warmup} s warm-up.",
        "",
        report.rows_table(rows),
        "",
        *summary(measured),
        "",
    ])  # fmt: skip
    print("\n" + text)
    if not args.no_record:
        report.append(args.results, text)
        print(f"recorded in {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
