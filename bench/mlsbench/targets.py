"""The servers under test: how to lay out, start and reach each one.

Every server gets one worker, the same joblib, the same environment and the same core. Peers run
with their per-request logging off (KServe's latency log, MLServer's debug access log) so the
comparison is against their best single-worker setup, not their chattiest.
"""

import dataclasses
import os
import pathlib
import subprocess
import sys

import orjson

from mlsbench.iris import MODEL_FILE, MODEL_NAME

BENCH_DIR = pathlib.Path(__file__).resolve().parent.parent
VENVS_DIR = BENCH_DIR / ".venvs"
PEERS_DIR = BENCH_DIR / "peers"
ALL_TARGETS = ("ours", "ours-batch", "kserve", "mlserver", "mlserver-inline")
GRPC_TARGETS = ("ours", "ours-batch", "mlserver", "mlserver-inline")


@dataclasses.dataclass(frozen=True)
class Ports:
    http: int
    grpc: int
    metrics: int


@dataclasses.dataclass(frozen=True)
class Launch:
    """One server ready to start: argv (unpinned), working dir, ports."""

    name: str
    argv: list[str]
    cwd: pathlib.Path
    ports: Ports


@dataclasses.dataclass(frozen=True)
class Options:
    """Knobs shared by every target."""

    model_dir: pathlib.Path
    work_dir: pathlib.Path
    max_batch_size: int
    max_batch_delay_ms: float
    mlserver_parallel_workers: int
    peer_logging: bool = False
    """Keep the peers' default per-request logging (KServe latency log, MLServer debug)."""


def _ours(opts: Options, ports: Ports, *, batching: bool, grpc: bool) -> list[str]:
    argv = [sys.executable, "-m", "mlservice", "serve", str(opts.model_dir)]
    argv += ["--name", MODEL_NAME, "--port", str(ports.http), "--workers", "1"]
    if batching:
        argv += ["--max-batch-size", str(opts.max_batch_size)]
        argv += ["--max-batch-delay-ms", f"{opts.max_batch_delay_ms:g}"]
    if grpc:
        argv += ["--grpc-port", str(ports.grpc)]
    return argv


def _kserve(opts: Options, ports: Ports) -> list[str]:
    python = VENVS_DIR / "kserve" / "bin" / "python"
    return [
        str(python),
        str(PEERS_DIR / "kserve_iris.py"),
        f"--model_name={MODEL_NAME}",
        f"--model_dir={opts.model_dir}",
        f"--http_port={ports.http}",
        f"--grpc_port={ports.grpc}",
        "--enable_grpc=false",
        "--workers=1",
        *([] if opts.peer_logging else ["--enable_latency_logging=false"]),
    ]


def _mlserver(opts: Options, ports: Ports, *, workers: int) -> tuple[list[str], pathlib.Path]:
    """Writes MLServer's settings.json and model-settings.json; returns argv and its repo dir.

    `workers` is MLServer's parallel_workers: 1 (its default) runs inference in one pool process
    beside the HTTP process; 0 runs it inline in the HTTP process, which wins on one core.
    """
    repo = opts.work_dir / f"mlserver-repo-{workers}"
    (repo / MODEL_NAME).mkdir(parents=True, exist_ok=True)
    settings: dict[str, object] = {} if opts.peer_logging else {"debug": False}
    settings |= {
        "host": "127.0.0.1",
        "http_port": ports.http,
        "grpc_port": ports.grpc,
        "metrics_port": ports.metrics,
        "parallel_workers": workers,
    }
    model_settings = {
        "name": MODEL_NAME,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": str(opts.model_dir / MODEL_FILE)},
    }
    (repo / "settings.json").write_bytes(orjson.dumps(settings))
    (repo / MODEL_NAME / "model-settings.json").write_bytes(orjson.dumps(model_settings))
    return [str(VENVS_DIR / "mlserver" / "bin" / "mlserver"), "start", str(repo)], repo


def launch(name: str, opts: Options, ports: Ports, *, grpc: bool = False) -> Launch:
    """How to start target `name`; gRPC is only switched on for ours when asked."""
    if name in ("ours", "ours-batch"):
        argv = _ours(opts, ports, batching=name == "ours-batch", grpc=grpc)
        return Launch(name, argv, opts.work_dir, ports)
    if name == "kserve":
        return Launch(name, _kserve(opts, ports), opts.work_dir, ports)
    if name in ("mlserver", "mlserver-inline"):
        workers = opts.mlserver_parallel_workers if name == "mlserver" else 0
        argv, repo = _mlserver(opts, ports, workers=workers)
        return Launch(name, argv, repo, ports)
    raise ValueError(f"server {name!r} is unknown; choose from {', '.join(ALL_TARGETS)}")


def server_env(*, keep_openblas_env: bool) -> dict[str, str]:
    """The environment every server gets: one BLAS thread, and this machine's OpenBLAS core
    override dropped unless asked (it slows a current numpy; see bench/README.md)."""
    env = dict(os.environ)
    if not keep_openblas_env:
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def ours_supports(flag: str) -> bool:
    """Whether `mls serve --help` lists `flag` (gRPC lands in a later issue than REST)."""
    result = subprocess.run(
        [sys.executable, "-m", "mlservice", "serve", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=60,
        check=False,
    )
    return result.returncode == 0 and flag in result.stdout
