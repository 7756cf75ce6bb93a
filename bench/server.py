"""The model-server benchmark: `mls serve` against KServe's ModelServer and Seldon MLServer.

Usage: .venv/bin/python bench/server.py [--quick] [--grpc] [--servers ours,kserve,...]
Trains an iris LogisticRegression, then starts each server alone (one worker, pinned to core 0),
checks it predicts the right class, and loads V2 REST infer with wrk (core 1) at each concurrency;
with --grpc, also V2 gRPC ModelInfer with h2load. Prints rps, p50, p99, server CPU per request and
our ratios; a full run appends the tables, dated, to bench/RESULTS.md. See bench/README.md.
"""

import argparse
import dataclasses
import datetime
import os
import pathlib
import shlex
import subprocess
import sys

from mlsbench import grpcload, iris, peerenv, procs, report, runner, targets, wrk

BENCH_DIR = pathlib.Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent


def _counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma list of positive integers")
    return counts


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--servers", default=",".join(targets.ALL_TARGETS), help="comma list")
    p.add_argument(
        "--concurrency", type=_counts, default=(1, 16, 64), help="wrk connections, comma list"
    )
    p.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    p.add_argument("--warmup", type=int, default=3, help="seconds of load before measuring")
    p.add_argument("--quick", action="store_true", help="smoke run: 2 s runs, 1 s warm-up")
    p.add_argument("--grpc", action="store_true", help="add gRPC rows (h2load)")
    p.add_argument("--grpc-only", action="store_true", help="gRPC rows only, no REST")
    p.add_argument("--grpc-clients", type=int, default=16, help="h2load connections")
    p.add_argument("--grpc-streams", type=int, default=1, help="h2load streams per connection")
    p.add_argument("--max-batch-size", type=int, default=32, help="for ours-batch")
    p.add_argument("--max-batch-delay-ms", type=float, default=2.0, help="for ours-batch")
    p.add_argument("--mlserver-parallel-workers", type=int, default=1, help="for mlserver")
    p.add_argument("--peer-logging", action="store_true", help="keep peers' per-request logs")
    p.add_argument(
        "--nice", type=int, default=0, help="niceness for the run (e.g. -10 as root on a busy box)"
    )
    p.add_argument(
        "--noisy-retries", type=int, default=1, help="reruns of a row other jobs disturbed"
    )
    p.add_argument("--no-pin", action="store_true", help="let server and load share both cores")
    p.add_argument("--keep-openblas-env", action="store_true", help="keep OPENBLAS_CORETYPE")
    p.add_argument("--results", type=pathlib.Path, default=BENCH_DIR / "RESULTS.md")
    p.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    p.add_argument(
        "--record-noisy", action="store_true", help="record even with badly disturbed rows"
    )
    p.add_argument("--skip-setup", action="store_true", help="do not check venvs and tools")
    p.add_argument("--python", default="python3", help="interpreter for the peers' venvs")
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.warmup = 2, 1
    return args


@dataclasses.dataclass
class Outcome:
    """Everything one run produced: rows, and what was skipped or failed (one line each)."""

    rest: list[report.Row] = dataclasses.field(default_factory=list)
    grpc: list[report.Row] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    failures: list[str] = dataclasses.field(default_factory=list)

    def skip(self, message: str) -> None:
        print(f"skipping {message}", flush=True)
        self.skipped.append(message)


def _servers(args: argparse.Namespace, outcome: Outcome) -> list[str]:
    names = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [n for n in names if n not in targets.ALL_TARGETS]
    if unknown:
        raise SystemExit(
            f"--servers {','.join(unknown)} is unknown; choose from {','.join(targets.ALL_TARGETS)}"
        )
    if any(n in report.OURS for n in names) and not targets.ours_supports("--port"):
        outcome.skip("ours: `python -m mlservice serve --help` fails in this checkout")
        names = [n for n in names if n not in report.OURS]
    return names


def _grpc_servers(names: list[str], outcome: Outcome) -> list[str]:
    chosen = [n for n in names if n in targets.GRPC_TARGETS]
    if any(n in report.OURS for n in chosen) and not targets.ours_supports("--grpc-port"):
        outcome.skip("ours over gRPC: `mls serve` has no --grpc-port yet")
        chosen = [n for n in chosen if n not in report.OURS]
    return chosen


def _context(args: argparse.Namespace, work: pathlib.Path) -> runner.Context:
    pin = not args.no_pin
    plan = runner.Plan(
        duration=args.duration,
        warmup=args.warmup,
        concurrency=args.concurrency,
        server_core=0 if pin else None,
        load_core=1 if pin else None,
        start_timeout=120.0,
        grpc_clients=args.grpc_clients,
        grpc_streams=args.grpc_streams,
        nice=args.nice,
        noisy_retries=args.noisy_retries,
    )
    opts = targets.Options(
        model_dir=work / "model",
        work_dir=work,
        max_batch_size=args.max_batch_size,
        max_batch_delay_ms=args.max_batch_delay_ms,
        mlserver_parallel_workers=args.mlserver_parallel_workers,
        peer_logging=args.peer_logging,
    )
    env = targets.server_env(keep_openblas_env=args.keep_openblas_env)
    return runner.Context(iris.train(opts.model_dir), plan, opts, env)


def _git(*args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(REPO_DIR), *args], capture_output=True, text=True, check=False
    )
    return result.stdout.strip()


def _notes(args: argparse.Namespace, ctx: runner.Context) -> list[str]:
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--", "src"):
        commit += " plus uncommitted changes in src/"
    pin = (
        "server on core 0, load generator on core 1 (taskset)" if not args.no_pin else "no pinning"
    )
    return [
        f"Ours at commit {commit}; peers kserve 0.21.0 and mlserver 1.7.1 "
        f"(mlserver: parallel_workers={args.mlserver_parallel_workers}, mlserver-inline: 0), "
        f"one worker each; {pin}.",
        f"{ctx.plan.duration} s per row after {ctx.plan.warmup} s warm-up; ours-batch is "
        f"--max-batch-size {args.max_batch_size} --max-batch-delay-ms {args.max_batch_delay_ms:g}; "
        "servers run with one BLAS thread"
        + ("." if args.keep_openblas_env else " and without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE.")
        + (f" Niceness {args.nice}." if args.nice else ""),
    ]


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not args.skip_setup:
        peerenv.ensure_all(python=args.python)
    if args.nice:
        # Servers and load generators inherit it: other jobs on the machine get the leftovers.
        procs.prioritize(os.getpid(), args.nice)
    outcome = Outcome()
    names = _servers(args, outcome)
    work = BENCH_DIR / ".work"
    work.mkdir(exist_ok=True)
    machine_line = report.machine()
    print(f"machine: {machine_line}", flush=True)
    ctx = _context(args, work)
    if not args.grpc_only:
        _rest(names, ctx, outcome)
    if args.grpc or args.grpc_only:
        _grpc(names, ctx, outcome)
    return _finish(args, ctx, outcome, machine_line)


def _rest(names: list[str], ctx: runner.Context, outcome: Outcome) -> None:
    script = ctx.opts.work_dir / "infer.lua"
    script.write_text(wrk.lua_script(ctx.case.v2_body()))
    for name in names:
        print(f"{name}: REST", flush=True)
        try:
            outcome.rest += runner.measure_rest(name, ctx, script=script)
        except (RuntimeError, ValueError) as exc:
            outcome.failures.append(f"{name} (REST): {exc}")


def _grpc(names: list[str], ctx: runner.Context, outcome: Outcome) -> None:
    body = ctx.opts.work_dir / "infer.grpc"
    body.write_bytes(grpcload.frame(grpcload.request_message(ctx.case.row)))
    for name in _grpc_servers(names, outcome):
        print(f"{name}: gRPC", flush=True)
        try:
            outcome.grpc.append(runner.measure_grpc(name, ctx, body=body))
        except grpcload.GrpcUnavailable as exc:
            if name not in report.OURS:
                outcome.failures.append(f"{name} (gRPC): {exc}")
            else:
                # `mls serve` may take --grpc-port before it serves gRPC: a skip, not a failure.
                outcome.skip(f"{name} over gRPC: mls serve took --grpc-port but {exc}")
        except (RuntimeError, ValueError) as exc:
            outcome.failures.append(f"{name} (gRPC): {exc}")


def _finish(
    args: argparse.Namespace, ctx: runner.Context, outcome: Outcome, machine_line: str
) -> int:
    command = shlex.join(["python", "bench/server.py", *sys.argv[1:]])
    notes = _notes(args, ctx)
    load_end = " ".join(f"{v:.2f}" for v in os.getloadavg())
    notes.append(f"Load average at the end: {load_end}.")
    notes += [f"Skipped {message}." for message in outcome.skipped]
    sections = [
        report.Section(title, rows, notes)
        for title, rows in (("server (REST)", outcome.rest), ("server (gRPC)", outcome.grpc))
        if rows
    ]
    today = datetime.date.today()
    texts = [
        report.markdown(s, when=today, command=command, machine_line=machine_line) for s in sections
    ]
    print("\n" + "\n".join(texts))
    for failure in outcome.failures:
        print(f"FAILED {failure}", file=sys.stderr)
    disturbed = [
        f"{r.server} {r.protocol} c={r.concurrency}"
        for r in outcome.rest + outcome.grpc
        if runner.badness(r) > runner.RETRY_ABOVE_PCT
    ]
    if disturbed and not args.record_noisy:
        print(f"disturbed rows even after reruns: {', '.join(disturbed)}")
    if outcome.failures or args.quick or args.no_record or (disturbed and not args.record_noisy):
        if texts:
            print(
                f"not recorded in {args.results} (failures, disturbed rows without "
                "--record-noisy, --quick or --no-record)"
            )
        return 1 if outcome.failures else 0
    for text in texts:
        report.append(args.results, text)
    print(f"recorded in {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
