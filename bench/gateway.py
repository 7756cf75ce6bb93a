"""The gateway benchmark: wrk straight at one `mls serve` replica vs through a gateway.

Usage: .venv/bin/python bench/gateway.py [--quick] [--proxies ours,aiohttp] [--no-record]
Trains the iris model, starts one replica (`mls serve`, one worker, core 0) and each proxy in
turn (core 1, beside wrk): `ours` is `python -m mlservice.gateway` fed a routing snapshot over
its admin channel; `aiohttp` is a minimal streaming aiohttp reverse proxy written here, the
alternative the design asked to measure. At each concurrency wrk loads V2 REST infer directly,
then through each proxy (Host header routing), one after the other in the same run. Reports
rps, p50/p99, the latency each proxy adds over the direct row, and the proxy's CPU time per
request (process CPU seconds / requests). A full run appends the table, dated, to RESULTS.md.
"""

import argparse
import contextlib
import os
import pathlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from mlsbench import iris, procs, report, wrk

BENCH_DIR = pathlib.Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
HOST = "iris.default.localhost"
REVISION = "default/iris-predict-v1-00001"
TOKEN = "bench-token"
PROXIES = ("ours", "aiohttp")
TARGET_ADDED_P50_MS = 0.5  # at concurrency 1
TARGET_CPU_US = 100.0
REPLICA_CORE, PROXY_CORE = 0, 1


@dataclass(frozen=True)
class Row:
    target: str
    concurrency: int
    load: wrk.LoadResult
    cpu_ms: float | None  # the proxy's CPU over the measured run; None for the direct row

    @property
    def cpu_us_per_request(self) -> float | None:
        return None if self.cpu_ms is None else self.cpu_ms * 1000.0 / max(self.load.requests, 1)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--proxies", default=",".join(PROXIES), help="comma list of ours, aiohttp")
    p.add_argument("--concurrency", default="1,16", help="wrk connections, comma list")
    p.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    p.add_argument("--warmup", type=int, default=3, help="seconds of load before each run")
    p.add_argument("--quick", action="store_true", help="3 s runs, nothing recorded")
    p.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    p.add_argument(
        "--nice", type=int, default=0, help="priority for every process (root: e.g. -10)"
    )
    p.add_argument("--serve-aiohttp", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--upstream", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.proxies = [name for name in args.proxies.split(",") if name]
    unknown = set(args.proxies) - set(PROXIES)
    if unknown:
        p.error(f"--proxies names {sorted(unknown)}, not among {list(PROXIES)}")
    try:
        args.concurrency = [int(c) for c in args.concurrency.split(",")]
    except ValueError:
        p.error(f"--concurrency {args.concurrency!r} is not a comma list of integers")
    if args.quick:
        args.duration, args.warmup, args.no_record = 3, 1, True
    return args


# -- the aiohttp peer ------------------------------------------------------------------------
def serve_aiohttp(port: int, upstream: str) -> None:
    """A minimal streaming reverse proxy on aiohttp (server and pooled client) with uvloop:
    Host lookup, hop-by-hop headers dropped, bodies streamed both ways, x-mls-release set."""
    import aiohttp
    import uvloop
    from aiohttp import web

    hop = {"connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer", "host"}
    routes = {HOST: f"http://{upstream}"}

    async def handle(request: web.Request) -> web.StreamResponse:
        base = routes.get(request.host.partition(":")[0].lower())
        if base is None:
            return web.json_response({"error": f"No service answers to {request.host}"}, status=404)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in hop}
        session: aiohttp.ClientSession = request.app["session"]
        body = request.content if request.body_exists else None
        # aiohttp would label an unlabelled streamed body octet-stream; pass it on as it came.
        skip = () if "Content-Type" in request.headers else ("Content-Type",)
        async with session.request(
            request.method, base + request.path_qs, headers=headers, data=body,
            skip_auto_headers=skip,
        ) as answer:  # fmt: skip
            out = web.StreamResponse(status=answer.status)
            for key, value in answer.headers.items():
                if key.lower() not in hop:
                    out.headers[key] = value
            out.headers["x-mls-release"] = "v1"
            await out.prepare(request)
            async for chunk in answer.content.iter_any():
                await out.write(chunk)
            await out.write_eof()
            return out

    async def session(app: web.Application) -> object:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=2)
        app["session"] = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        yield
        await app["session"].close()

    app = web.Application()
    app.cleanup_ctx.append(session)
    app.router.add_route("*", "/{tail:.*}", handle)
    print(f"aiohttp proxy on http://127.0.0.1:{port}", flush=True)
    web.run_app(
        app, host="127.0.0.1", port=port, access_log=None, print=None, loop=uvloop.new_event_loop()
    )


# -- processes -------------------------------------------------------------------------------
@contextlib.contextmanager
def replica(case: iris.IrisCase, work: pathlib.Path, *, nice: int) -> Iterator[procs.ServerProcess]:
    port = procs.free_port()
    argv = [sys.executable, "-m", "mlservice", "serve", str(case.model_dir), "--name", "iris"]
    argv += ["--port", str(port), "--workers", "1"]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with procs.running(
        "replica", procs.pinned(argv, REPLICA_CORE), port=port, env=env, cwd=work,
        log_path=work / "logs" / "replica.log", nice=nice,
    ) as server:  # fmt: skip
        procs.wait_ready(server, path="/v2/models/iris/ready", timeout=60)
        yield server


@contextlib.contextmanager
def proxy(
    name: str, upstream: str, work: pathlib.Path, *, nice: int
) -> Iterator[procs.ServerProcess]:
    port = procs.free_port()
    if name == "ours":
        admin = procs.free_port()
        token = work / "token"
        token.write_text(TOKEN + "\n")
        argv = [sys.executable, "-m", "mlservice.gateway", "--token-file", str(token)]
        argv += ["--port", str(port), "--admin-port", str(admin)]
    else:
        argv = [sys.executable, str(BENCH_DIR / "gateway.py"), "--serve-aiohttp"]
        argv += ["--port", str(port), "--upstream", upstream]
    with procs.running(
        name, procs.pinned(argv, PROXY_CORE), port=port, env=dict(os.environ), cwd=work,
        log_path=work / "logs" / f"{name}.log", nice=nice,
    ) as server:  # fmt: skip
        if name == "ours":
            _push_route(f"http://127.0.0.1:{admin}", upstream, server)
        _wait_routed(server)
        yield server


def _push_route(admin_url: str, upstream: str, server: procs.ServerProcess) -> None:
    snapshot = {
        "version": 1,
        "revisions": [
            {
                "id": REVISION, "namespace": "default", "service": "iris",
                "component": "predict", "release": "v1",
                "endpoints": [{"replica": "bench-0", "address": upstream}],
            }
        ],
        "routes": [
            {
                "host": HOST, "kind": "service", "namespace": "default", "service": "iris",
                "backends": [{"revision": REVISION, "release": "v1", "percent": 100}],
            }
        ],
    }  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            answer = httpx.put(
                f"{admin_url}/admin/routes",
                json=snapshot,
                headers={"authorization": f"Bearer {TOKEN}"},
                timeout=5,
            )
            answer.raise_for_status()
            return
        except httpx.TransportError:
            if time.monotonic() > deadline or server.proc.poll() is not None:
                raise RuntimeError(f"the gateway never answered:\n{server.log_tail()}") from None
            time.sleep(0.1)


def _wait_routed(server: procs.ServerProcess) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"proxy {server.name} exited:\n{server.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            ready = httpx.get(f"{server.base_url}/v2/models/iris/ready", headers={"host": HOST})
            if ready.status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"proxy {server.name} did not route within 30 s:\n{server.log_tail()}")


# -- measuring -------------------------------------------------------------------------------
def check(base_url: str, case: iris.IrisCase) -> None:
    headers = {"host": HOST, "content-type": "application/json"}  # as wrk's script sends
    answer = httpx.post(f"{base_url}/v2/models/iris/infer", content=case.v2_body(), headers=headers)
    answer.raise_for_status()
    got = iris.prediction_of(answer.content)
    if got != case.expected:
        raise RuntimeError(f"{base_url} answered class {got}, expected {case.expected}")


def measure(
    target: str, base_url: str, *, pid: int | None, concurrency: int, script: pathlib.Path,
    args: argparse.Namespace,
) -> Row:  # fmt: skip
    url = f"{base_url}/v2/models/iris/infer"
    core = PROXY_CORE
    if args.warmup:
        wrk.run(url, script=script, connections=concurrency, seconds=args.warmup, core=core)
    before = procs.tree_cpu_ms(pid) if pid else 0.0
    load = wrk.run(url, script=script, connections=concurrency, seconds=args.duration, core=core)
    cpu = procs.tree_cpu_ms(pid) - before if pid else None
    row = Row(target, concurrency, load, cpu)
    cpu_text = (
        "" if row.cpu_us_per_request is None else f", {row.cpu_us_per_request:.0f} us CPU/req"
    )
    print(
        f"  {target:8} c={concurrency:<3} {load.rps:8,.0f} rps  p50 {load.p50_ms:.3f} ms  "
        f"p99 {load.p99_ms:.3f} ms  errors {load.errors}{cpu_text}",
        flush=True,
    )
    return row


def table(rows: list[Row]) -> str:
    direct = {r.concurrency: r for r in rows if r.target == "direct"}
    lines = [
        "| path | concurrency | rps | p50 ms | p99 ms | added p50 ms | added p99 ms "
        "| proxy CPU us/req | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        base = direct.get(r.concurrency)
        added = (
            ("", "")
            if r.target == "direct" or base is None
            else (
                f"{r.load.p50_ms - base.load.p50_ms:+.3f}",
                f"{r.load.p99_ms - base.load.p99_ms:+.3f}",
            )
        )
        cpu = "" if r.cpu_us_per_request is None else f"{r.cpu_us_per_request:.0f}"
        lines.append(
            f"| {r.target} | {r.concurrency} | {r.load.rps:,.0f} | {r.load.p50_ms:.3f} "
            f"| {r.load.p99_ms:.3f} | {added[0]} | {added[1]} | {cpu} | {r.load.errors} |"
        )
    return "\n".join(lines)


def verdicts(rows: list[Row]) -> list[str]:
    direct = {r.concurrency: r for r in rows if r.target == "direct"}
    found = []
    for r in rows:
        if r.target == "direct" or r.concurrency not in direct:
            continue
        cpu = r.cpu_us_per_request or 0.0
        cpu_ok = "met" if cpu <= TARGET_CPU_US else "missed"
        text = f"{r.target} c={r.concurrency}: CPU {cpu:.0f} us/req "
        text += f"(target {TARGET_CPU_US:.0f}: {cpu_ok})"
        if r.concurrency == 1:
            added = r.load.p50_ms - direct[1].load.p50_ms
            ok = "met" if added <= TARGET_ADDED_P50_MS else "missed"
            text += f"; added p50 {added:.3f} ms (target {TARGET_ADDED_P50_MS} ms: {ok})"
        found.append(text)
    return found


def git_commit() -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    dirty = subprocess.run(
        ["git", "-C", str(REPO_DIR), "status", "--porcelain", "src/mlservice/gateway"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stdout.strip() + (
        " plus uncommitted gateway changes" if dirty.stdout.strip() else ""
    )


def run(args: argparse.Namespace) -> str:
    work = BENCH_DIR / ".work" / "gateway"
    work.mkdir(parents=True, exist_ok=True)
    case = iris.train(work / "model")
    script = work / "infer.lua"
    script.write_text(f'wrk.headers["Host"] = "{HOST}"\n' + wrk.lua_script(case.v2_body()))
    machine_before = report.machine()
    rows: list[Row] = []
    if args.nice:
        procs.prioritize(os.getpid(), args.nice)  # wrk runs as our child, in our autogroup
    with replica(case, work, nice=args.nice) as server:
        upstream = server.base_url.removeprefix("http://")
        check(server.base_url, case)
        started = [(name, contextlib.ExitStack()) for name in args.proxies]
        proxies = {
            name: stack.enter_context(proxy(name, upstream, work, nice=args.nice))
            for name, stack in started
        }
        try:
            for running in proxies.values():
                check(running.base_url, case)
            for concurrency in args.concurrency:
                rows.append(
                    measure("direct", server.base_url, pid=None, concurrency=concurrency,
                            script=script, args=args)
                )  # fmt: skip
                for name, running in proxies.items():
                    rows.append(
                        measure(name, running.base_url, pid=running.proc.pid,
                                concurrency=concurrency, script=script, args=args)
                    )  # fmt: skip
            for running in proxies.values():
                check(running.base_url, case)
        finally:
            for _, stack in reversed(started):
                stack.close()
    notes = [
        f"Gateway at commit {git_commit()}; one `mls serve` replica (one worker, core "
        f"{REPLICA_CORE}); each proxy on core {PROXY_CORE} beside wrk (one thread); iris V2 REST "
        "infer, one FP32 row.",
        f"{args.duration} s per row after {args.warmup} s warm-up; rows run one after the other "
        "in this order; 'added' is the proxy row minus the direct row at the same concurrency.",
        "Proxy CPU is the proxy process's utime+stime over the measured run divided by requests.",
        f"Machine before: {machine_before}.",
        *verdicts(rows),
    ]
    return report.dated_section(
        "gateway", script="bench/gateway.py", notes=notes, body=[table(rows)]
    )


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.serve_aiohttp:
        serve_aiohttp(args.port, args.upstream)
        return 0
    report.publish(run(args), results=BENCH_DIR / "RESULTS.md", record=not args.no_record)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
