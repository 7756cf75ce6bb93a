"""Many small models: one `mls serve --model-repository` replica vs one `mls serve` per model.

Usage: .venv/bin/python bench/multimodel.py [--models 50] [--batch 5] [--no-record]
Fits `--models` tiny scikit-learn classifiers (iris LogisticRegression, each on its own sample
of rows, ~1 KB on disk each) into one repository folder, then:

- repository: one `mls serve --model-repository DIR --load-models none`; RSS and PSS before any
  model is loaded, then each model loaded through `POST /v2/repository/models/{m}/load` (its
  cold load time, the first paying for importing scikit-learn) and answered once; RSS and PSS
  with all loaded. Per model: the total over the models, and the increment over the empty
  server.
- single: one `mls serve DIR --name m` per model, started `--batch` at a time (the machine has
  two cores) and stopped before the next batch: each process's cold start (spawn to
  `/v2/health/ready` 200, the model loaded at start) and its RSS and PSS once ready.

RSS counts the shared libraries in every process; PSS divides shared pages between the processes
that map them, so it is the fairer sum for processes running side by side (they share little
here: each `mls serve` imports its own copy of Python, numpy and scikit-learn). The target is a
repository costing <= 1/10 of the single-model processes' memory. A full run appends the table,
dated, to RESULTS.md.
"""

import argparse
import contextlib
import datetime
import os
import pathlib
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass

import httpx
import joblib
import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from mlsbench import procs, report

BENCH_DIR = pathlib.Path(__file__).resolve().parent
TARGET_RATIO = 10.0
ROW = [6.3, 3.3, 6.0, 2.5]
START_TIMEOUT = 120.0


@dataclass(frozen=True)
class Memory:
    rss: int
    pss: int


def memory_of(pid: int) -> Memory:
    """RSS and PSS of one process, in bytes (smaps_rollup: one read, no page walk of ours)."""
    fields: dict[str, int] = {}
    for line in pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss"):
            fields[name] = int(rest.split()[0]) * 1024
    return Memory(fields["Rss"], fields["Pss"])


def make_models(root: pathlib.Path, count: int) -> list[str]:
    x, y = load_iris(return_X_y=True)
    rng = np.random.default_rng(19)
    names = []
    for index in range(count):
        rows = rng.choice(len(x), size=120, replace=False)
        model = LogisticRegression(max_iter=500).fit(x[rows], y[rows])
        name = f"m{index:03d}"
        (root / name).mkdir(parents=True)
        joblib.dump(model, root / name / "model.joblib")
        names.append(name)
    return names


def env() -> dict[str, str]:
    # One BLAS thread per process, as a replica runs under `mls up` on this machine.
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def infer(client: httpx.Client, name: str) -> None:
    body = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ROW}]}
    reply = client.post(f"/v2/models/{name}/infer", json=body)
    if reply.status_code != 200:
        raise RuntimeError(f"model {name} answered {reply.status_code}: {reply.text}")


@dataclass(frozen=True)
class RepositoryRun:
    empty: Memory
    loaded: Memory
    loads_ms: list[float]


def run_repository(root: pathlib.Path, names: list[str], logs: pathlib.Path) -> RepositoryRun:
    port = procs.free_port()
    argv = [sys.executable, "-m", "mlservice", "serve", "--model-repository", str(root)]
    argv += ["--load-models", "none", "--port", str(port)]
    with procs.running(
        "repository", argv, port=port, env=env(), cwd=BENCH_DIR, log_path=logs / "repository.log"
    ) as server:
        procs.wait_ready(server, path="/v2/health/ready", timeout=START_TIMEOUT)
        time.sleep(0.5)
        empty = memory_of(server.proc.pid)
        loads = []
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            for name in names:
                started = time.perf_counter()
                reply = client.post(f"/v2/repository/models/{name}/load")
                loads.append((time.perf_counter() - started) * 1000)
                if reply.status_code != 200:
                    raise RuntimeError(f"load {name}: {reply.status_code} {reply.text}")
                infer(client, name)
            time.sleep(0.5)
            loaded = memory_of(server.proc.pid)
            states = {m["state"] for m in client.post("/v2/repository/index").json()}
            if states != {"READY"}:
                raise RuntimeError(f"not every model is ready: {states}")
    return RepositoryRun(empty, loaded, loads)


@dataclass(frozen=True)
class SingleRun:
    memory: list[Memory]
    starts_ms: list[float]


def run_single(
    root: pathlib.Path, names: list[str], logs: pathlib.Path, *, batch: int
) -> SingleRun:
    memory: list[Memory] = []
    starts: list[float] = []
    for first in range(0, len(names), batch):
        group = names[first : first + batch]
        with contextlib.ExitStack() as stack:
            servers = []
            for name in group:
                port = procs.free_port()
                argv = [sys.executable, "-m", "mlservice", "serve", str(root / name)]
                argv += ["--name", name, "--port", str(port)]
                started = time.perf_counter()
                server = stack.enter_context(
                    procs.running(
                        name, argv, port=port, env=env(), cwd=BENCH_DIR,
                        log_path=logs / f"{name}.log",
                    )
                )  # fmt: skip
                servers.append((name, server, started))
            for name, server, started in servers:
                procs.wait_ready(server, path=f"/v2/models/{name}/ready", timeout=START_TIMEOUT)
                starts.append((time.perf_counter() - started) * 1000)
            time.sleep(0.5)
            with httpx.Client(timeout=30) as client:
                for name, server, _ in servers:
                    client.base_url = httpx.URL(server.base_url)
                    infer(client, name)
                    memory.append(memory_of(server.proc.pid))
        print(f"  single: {len(memory)}/{len(names)} measured", flush=True)
    return SingleRun(memory, starts)


def mib(value: float) -> str:
    return f"{value / 2**20:.1f}"


def table(repo: RepositoryRun, single: SingleRun, count: int) -> tuple[str, list[str]]:
    single_rss = sum(m.rss for m in single.memory)
    single_pss = sum(m.pss for m in single.memory)
    rows = [
        "| setup | models | total RSS MiB | RSS MiB / model | total PSS MiB | PSS MiB / model "
        "| cold load ms (median) | cold load ms (first / max) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| one replica, repository | {count} | {mib(repo.loaded.rss)} "
        f"| {mib(repo.loaded.rss / count)} | {mib(repo.loaded.pss)} "
        f"| {mib(repo.loaded.pss / count)} | {statistics.median(repo.loads_ms):.1f} "
        f"| {repo.loads_ms[0]:.1f} / {max(repo.loads_ms):.1f} |",
        f"| (its increment over the empty server, {mib(repo.empty.rss)} MiB RSS) | {count} "
        f"| {mib(repo.loaded.rss - repo.empty.rss)} "
        f"| {mib((repo.loaded.rss - repo.empty.rss) / count)} "
        f"| {mib(repo.loaded.pss - repo.empty.pss)} "
        f"| {mib((repo.loaded.pss - repo.empty.pss) / count)} | | |",
        f"| one `mls serve` per model | {count} | {mib(single_rss)} | {mib(single_rss / count)} "
        f"| {mib(single_pss)} | {mib(single_pss / count)} "
        f"| {statistics.median(single.starts_ms):.1f} "
        f"| {single.starts_ms[0]:.1f} / {max(single.starts_ms):.1f} |",
    ]
    ratio_rss = single_rss / repo.loaded.rss
    ratio_pss = single_pss / repo.loaded.pss
    met = "met" if ratio_pss >= TARGET_RATIO else "NOT met"
    notes = [
        f"Memory: the single-model processes take {ratio_rss:.1f}x the repository's RSS and "
        f"{ratio_pss:.1f}x its PSS (target >= {TARGET_RATIO:.0f}x, i.e. <= 1/10: {met}).",
        "Cold load: for the repository, `POST /v2/repository/models/{m}/load` (the first pays "
        "for importing scikit-learn); for a single-model process, spawn to ready (interpreter, "
        "imports, model load), measured with --batch processes starting together on 2 cores.",
    ]
    return "\n".join(rows), notes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mls-bench-mm-") as scratch:
        root = pathlib.Path(scratch) / "repository"
        logs = pathlib.Path(scratch) / "logs"
        names = make_models(root, args.models)
        machine_line = report.machine()
        print(f"repository: {args.models} models", flush=True)
        repo = run_repository(root, names, logs)
        print(f"single: {args.models} processes, {args.batch} at a time", flush=True)
        single = run_single(root, names, logs, batch=args.batch)
    rows, notes = table(repo, single, args.models)
    command = "python bench/multimodel.py " + shlex.join(sys.argv[1:])
    text = "\n".join(
        [
            f"## {datetime.date.today().isoformat()} multimodel (issue 19)",
            "",
            f"- Machine: {machine_line}.",
            f"- Command: `{command.strip()}`",
            *(f"- {note}" for note in notes),
            "",
            rows,
        ]
    )
    print(text)
    if not args.no_record and args.models >= 50:
        report.append(BENCH_DIR / "RESULTS.md", text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
