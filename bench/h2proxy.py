"""gRPC through a proxy: h2load straight at one `mls serve --grpc-port` vs through each proxy.

Usage: .venv/bin/python bench/h2proxy.py [--quick] [--proxies ours,grpc-aio] [--no-record]
Trains the iris model, starts one replica (`mls serve`, one worker, core 0) and each proxy
(core 1, beside h2load): `ours` is `python -m mlservice.gateway --grpc-port` (the `h2` sans-IO
library in an asyncio Protocol on uvloop, as the HTTP/1.1 path), fed a routing snapshot
naming the replica's gRPC port; `grpc-aio` is a byte-passing grpc.aio generic-handler proxy
written here (grpc's C core does HTTP/2 and HPACK on both sides). One pre-encoded ModelInfer
call is replayed over one HTTP/2 connection with 1 and 16 streams in flight, `:authority`
set to the service host. The same gateway's HTTP/1.1 path is measured too (wrk, V2 REST
infer), for the CPU ratio the issue asks for. Proxy CPU is the process's utime+stime over the
measured run divided by calls. A full run appends the table, dated, to RESULTS.md.
"""

import argparse
import contextlib
import os
import pathlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from mlsbench import grpcload, iris, procs, report, wrk

BENCH_DIR = pathlib.Path(__file__).resolve().parent
HOST = "iris.default.localhost"
REVISION = "default/iris-predict-v1-00001"
TOKEN = "bench-token"
PROXIES = ("ours", "grpc-aio")
REPLICA_CORE, PROXY_CORE = 0, 1
TARGET_ADDED_P50_MS = 0.5  # at concurrency 1
TARGET_CPU_RATIO = 2.0  # gRPC CPU per call over the gateway's HTTP/1.1 CPU per request


@dataclass(frozen=True)
class Row:
    target: str  # "direct", a proxy name, or "ours-http1"
    concurrency: int
    load: wrk.LoadResult
    cpu_ms: float | None

    @property
    def cpu_us(self) -> float | None:
        return None if self.cpu_ms is None else self.cpu_ms * 1000.0 / max(self.load.requests, 1)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--proxies", default=",".join(PROXIES), help="comma list of ours, grpc-aio")
    p.add_argument("--concurrency", default="1,16", help="streams in flight, comma list")
    p.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    p.add_argument("--warmup", type=int, default=2, help="seconds of load before each run")
    p.add_argument("--quick", action="store_true", help="3 s runs, nothing recorded")
    p.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    p.add_argument("--serve-grpc-aio", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--upstream", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.proxies = [n for n in args.proxies.split(",") if n]
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    if args.quick:
        args.duration, args.warmup, args.no_record = 3, 1, True
    return args


# -- the grpc.aio alternative ---------------------------------------------------------------
def serve_grpc_aio(port: int, upstream: str) -> None:
    """A pass-through: each call's bytes to `upstream` and back, release as initial metadata.

    grpc's Python API shows a handler the method and metadata but not `:authority`, so this
    proxy cannot route by host at all: it has one upstream.
    """
    import grpc
    import uvloop

    def same(raw: bytes) -> bytes:
        return raw

    async def main() -> None:
        channel = grpc.aio.insecure_channel(upstream)
        methods: dict[str, grpc.aio.UnaryUnaryMultiCallable] = {}

        class Handler(grpc.GenericRpcHandler):
            def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
                method = details.method
                call = methods.get(method)
                if call is None:
                    call = methods[method] = channel.unary_unary(
                        method, request_serializer=same, response_deserializer=same
                    )

                async def handle(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
                    await context.send_initial_metadata((("x-mls-release", "v1"),))
                    return await call(request, timeout=context.time_remaining())

                return grpc.unary_unary_rpc_method_handler(
                    handle, request_deserializer=same, response_serializer=same
                )

        server = grpc.aio.server()
        server.add_generic_rpc_handlers((Handler(),))
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        print(f"grpc-aio proxy on 127.0.0.1:{port}", flush=True)
        await server.wait_for_termination()

    uvloop.run(main())


# -- processes ------------------------------------------------------------------------------
@contextlib.contextmanager
def replica(case: iris.IrisCase, work: pathlib.Path) -> Iterator[tuple[procs.ServerProcess, str]]:
    port, grpc_port = procs.free_port(), procs.free_port()
    argv = [sys.executable, "-m", "mlservice", "serve", str(case.model_dir), "--name", "iris"]
    argv += ["--port", str(port), "--grpc-port", str(grpc_port), "--workers", "1"]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with procs.running(
        "replica", procs.pinned(argv, REPLICA_CORE), port=port, env=env, cwd=work,
        log_path=work / "logs" / "replica.log",
    ) as server:  # fmt: skip
        procs.wait_ready(server, path="/v2/models/iris/ready", timeout=60)
        target = f"127.0.0.1:{grpc_port}"
        grpcload.wait_serving(target, timeout=30)
        yield server, target


@dataclass(frozen=True)
class Proxy:
    server: procs.ServerProcess
    grpc_target: str
    http_url: str | None  # ours only: its HTTP/1.1 proxy


@contextlib.contextmanager
def proxy(name: str, replica_http: str, replica_grpc: str, work: pathlib.Path) -> Iterator[Proxy]:
    port, grpc_port = procs.free_port(), procs.free_port()
    if name == "ours":
        admin = procs.free_port()
        token = work / "token"
        token.write_text(TOKEN + "\n")
        argv = [sys.executable, "-m", "mlservice.gateway", "--token-file", str(token)]
        argv += ["--port", str(port), "--admin-port", str(admin), "--grpc-port", str(grpc_port)]
        argv += ["--routes-file", str(work / "routes.json")]
    else:
        argv = [sys.executable, str(BENCH_DIR / "h2proxy.py"), "--serve-grpc-aio"]
        argv += ["--port", str(grpc_port), "--upstream", replica_grpc]
    with procs.running(
        name, procs.pinned(argv, PROXY_CORE), port=port, env=dict(os.environ), cwd=work,
        log_path=work / "logs" / f"{name}.log",
    ) as server:  # fmt: skip
        target = f"127.0.0.1:{grpc_port}"
        if name == "ours":
            _push_route(f"http://127.0.0.1:{admin}", replica_http, replica_grpc, server)
        grpcload.wait_serving(target, timeout=30)
        yield Proxy(server, target, server.base_url if name == "ours" else None)


def _push_route(admin_url: str, http: str, grpc: str, server: procs.ServerProcess) -> None:
    snapshot = {
        "version": 1,
        "revisions": [
            {
                "id": REVISION, "namespace": "default", "service": "iris",
                "component": "predict", "release": "v1",
                "endpoints": [{"replica": "bench-0", "address": http, "grpc": grpc}],
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
                f"{admin_url}/admin/routes", json=snapshot,
                headers={"authorization": f"Bearer {TOKEN}"}, timeout=5,
            )  # fmt: skip
            answer.raise_for_status()
            return
        except httpx.TransportError:
            if time.monotonic() > deadline or server.proc.poll() is not None:
                raise RuntimeError(f"the gateway never answered:\n{server.log_tail()}") from None
            time.sleep(0.1)


# -- measuring ------------------------------------------------------------------------------
def check_grpc(target: str, message: bytes, case: iris.IrisCase) -> None:
    got = grpcload.prediction_of(_call(target, message))
    if got != case.expected:
        raise RuntimeError(f"{target} answered class {got}, expected {case.expected}")


def _call(target: str, message: bytes) -> object:
    import grpc
    from tritonclient.grpc import service_pb2

    options = [("grpc.default_authority", HOST)]
    with grpc.insecure_channel(target, options=options) as channel:
        infer = channel.unary_unary(
            grpcload.METHOD,
            request_serializer=lambda raw: raw,
            response_deserializer=service_pb2.ModelInferResponse.FromString,
        )
        return infer(message, timeout=10)


def measure_grpc(
    name: str, target: str, *, pid: int | None, streams: int, body: pathlib.Path,
    response_bytes: int, work: pathlib.Path, args: argparse.Namespace,
) -> Row:  # fmt: skip
    url = f"http://{target}"
    extra = ["-H", f":authority: {HOST}"]
    log = work / f"h2load-{name}-{streams}.log"

    def load(seconds: int) -> tuple[str, list[float]]:
        return _h2load(url, body=body, log=log, streams=streams, seconds=seconds, extra=extra)

    if args.warmup:
        load(args.warmup)
    before = procs.tree_cpu_ms(pid) if pid else 0.0
    stdout, latencies = load(args.duration)
    cpu = procs.tree_cpu_ms(pid) - before if pid else None
    result = grpcload.parse(stdout, latencies_ms=latencies, response_bytes=response_bytes)
    return _report(Row(name, streams, result, cpu))


def _h2load(
    url: str, *, body: pathlib.Path, log: pathlib.Path, streams: int, seconds: int,
    extra: list[str],
) -> tuple[str, list[float]]:  # fmt: skip
    """grpcload.run with `:authority` set (one connection, `streams` in flight)."""
    import subprocess

    log.unlink(missing_ok=True)
    argv = ["h2load", "-t1", "-c1", f"-m{streams}", f"-D{seconds}", "-d", str(body)]
    argv += ["-H", "content-type: application/grpc", "-H", "te: trailers", *extra]
    argv += [f"--log-file={log}", url + grpcload.METHOD]
    done = subprocess.run(
        procs.pinned(argv, PROXY_CORE), capture_output=True, text=True,
        timeout=seconds + 60, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"h2load against {url} exited {done.returncode}: {done.stdout}")
    return done.stdout, grpcload._latencies_ms(log)


def measure_http1(
    url: str, *, pid: int, connections: int, script: pathlib.Path, args: argparse.Namespace
) -> Row:
    target = f"{url}/v2/models/iris/infer"
    if args.warmup:
        wrk.run(target, script=script, connections=connections, seconds=args.warmup,
                core=PROXY_CORE)  # fmt: skip
    before = procs.tree_cpu_ms(pid)
    load = wrk.run(target, script=script, connections=connections, seconds=args.duration,
                   core=PROXY_CORE)  # fmt: skip
    return _report(Row("ours-http1", connections, load, procs.tree_cpu_ms(pid) - before))


def _report(row: Row) -> Row:
    load = row.load
    cpu = "" if row.cpu_us is None else f", {row.cpu_us:.0f} us CPU/call"
    print(
        f"  {row.target:10} c={row.concurrency:<3} {load.rps:8,.0f} rps  p50 {load.p50_ms:.3f} ms"
        f"  p99 {load.p99_ms:.3f} ms  errors {load.errors}{cpu}",
        flush=True,
    )
    return row


def table(rows: list[Row]) -> str:
    direct = {r.concurrency: r for r in rows if r.target == "direct"}
    lines = [
        "| path | concurrency | rps | p50 ms | p99 ms | added p50 ms | proxy CPU us/call "
        "| errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        base = direct.get(r.concurrency)
        added = "" if r.target in ("direct", "ours-http1") or base is None else (
            f"{r.load.p50_ms - base.load.p50_ms:+.3f}"
        )  # fmt: skip
        cpu = "" if r.cpu_us is None else f"{r.cpu_us:.0f}"
        lines.append(
            f"| {r.target} | {r.concurrency} | {r.load.rps:,.0f} | {r.load.p50_ms:.3f} "
            f"| {r.load.p99_ms:.3f} | {added} | {cpu} | {r.load.errors} |"
        )
    return "\n".join(lines)


def verdicts(rows: list[Row]) -> list[str]:
    direct = {r.concurrency: r for r in rows if r.target == "direct"}
    http1 = {r.concurrency: r for r in rows if r.target == "ours-http1"}
    out = []
    for r in rows:
        if r.target != "ours" or r.cpu_us is None:
            continue
        text = f"ours gRPC c={r.concurrency}: CPU {r.cpu_us:.0f} us/call"
        if (h := http1.get(r.concurrency)) is not None and h.cpu_us:
            ratio = r.cpu_us / h.cpu_us
            verdict = "met" if ratio <= TARGET_CPU_RATIO else "missed"
            text += f", {ratio:.2f}x HTTP/1.1's {h.cpu_us:.0f} "
            text += f"(target {TARGET_CPU_RATIO:g}x: {verdict})"
        if r.concurrency == 1 and (d := direct.get(1)) is not None:
            added = r.load.p50_ms - d.load.p50_ms
            verdict = "met" if added <= TARGET_ADDED_P50_MS else "missed"
            text += f"; added p50 {added:.3f} ms (target {TARGET_ADDED_P50_MS} ms: {verdict})"
        out.append(text)
    return out


def run(args: argparse.Namespace) -> str:
    work = BENCH_DIR / ".work" / "h2proxy"
    work.mkdir(parents=True, exist_ok=True)
    case = iris.train(work / "model")
    message = grpcload.request_message(case.row)
    body = work / "infer.bin"
    body.write_bytes(grpcload.frame(message))
    script = work / "infer.lua"
    script.write_text(f'wrk.headers["Host"] = "{HOST}"\n' + wrk.lua_script(case.v2_body()))
    machine_before = report.machine()
    rows: list[Row] = []
    with replica(case, work) as (server, replica_grpc):
        replica_http = server.base_url.removeprefix("http://")
        check_grpc(replica_grpc, message, case)
        response_bytes = len(grpcload.frame(_call(replica_grpc, message).SerializeToString()))  # type: ignore[attr-defined]
        with contextlib.ExitStack() as stack:
            proxies = {
                name: stack.enter_context(proxy(name, replica_http, replica_grpc, work))
                for name in args.proxies
            }
            for running in proxies.values():
                check_grpc(running.grpc_target, message, case)
            for streams in args.concurrency:
                common = dict(streams=streams, body=body, response_bytes=response_bytes,
                              work=work, args=args)  # fmt: skip
                rows.append(measure_grpc("direct", replica_grpc, pid=None, **common))  # type: ignore[arg-type]
                for name, running in proxies.items():
                    rows.append(
                        measure_grpc(name, running.grpc_target, pid=running.server.proc.pid,
                                     **common)  # type: ignore[arg-type]
                    )  # fmt: skip
                    if running.http_url is not None:
                        rows.append(
                            measure_http1(running.http_url, pid=running.server.proc.pid,
                                          connections=streams, script=script, args=args)
                        )  # fmt: skip
    notes = [
        f"One `mls serve` replica (one worker, core {REPLICA_CORE}); each proxy on core "
        f"{PROXY_CORE} beside the load generator (h2load: one connection, N streams in flight; "
        "wrk for the HTTP/1.1 row: N connections); iris ModelInfer, one FP32 row.",
        f"{args.duration} s per row after {args.warmup} s warm-up, in this order; 'added' is the "
        "proxy row's p50 minus the direct row's at the same concurrency.",
        f"Machine before: {machine_before}.",
        *verdicts(rows),
    ]
    return report.dated_section(
        "gRPC through the gateway (h2proxy)",
        script="bench/h2proxy.py",
        notes=notes,
        body=[table(rows)],
    )


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.serve_grpc_aio:
        serve_grpc_aio(args.port, args.upstream)
        return 0
    report.publish(run(args), results=BENCH_DIR / "RESULTS.md", record=not args.no_record)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
