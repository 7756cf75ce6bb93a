"""Run the real TorchServe for one replica: the JVM on loopback ports of its own, our adapter on
the replica's port, both ended together.

    python -m mlservice.runtime.builtin.torchserve --port P --grpc-port G \
        --model-store DIR [--models SPEC] [--name NAME]

KServe's spellings (`--http_port`, `--grpc_port`, `--model_dir`, `--model_name`) are accepted
too, so a ServingRuntime's args run unchanged. DIR is a model store (`config/config.properties`
+ `model-store/*.mar`, or a folder of `.mar` files); `--models` is TorchServe's (`all`, or
`name=file.mar,...`); when the store's config.properties has a `model_snapshot` or
`load_models` and `--models` is `all`, the config decides. `--name` also answers for the
store's model when it holds exactly one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from mlservice.runtime.torchserve import properties

EXIT_CANNOT_RUN = 127
STOP_SECONDS = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mlservice.runtime.builtin.torchserve")
    p.add_argument("--port", "--http_port", "--http-port", dest="port", type=int, required=True)
    p.add_argument("--grpc-port", "--grpc_port", dest="grpc_port", type=int)
    p.add_argument("--model-store", "--model_dir", dest="model_store", required=True)
    p.add_argument("--models", default="all")
    p.add_argument("--name", "--model_name", dest="name")
    return p


def missing_programs() -> list[str]:
    return [name for name in ("torchserve", "java") if shutil.which(name) is None]


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    missing = missing_programs()
    if missing:
        sys.stderr.write(f"mls: {', '.join(missing)} not found on PATH: cannot run TorchServe.\n")
        return EXIT_CANNOT_RUN
    store = properties.find_store(Path(args.model_store).resolve())
    user = properties.parse(store.config.read_text()) if store.config else {}
    ports = properties.Ports(
        inference=free_port(),
        management=free_port(),
        metrics=free_port(),
        grpc_inference=args.grpc_port or free_port(),
        grpc_management=free_port(),
        worker=free_port(),
    )
    workdir = Path.cwd()
    config = workdir / "config.properties"
    config.write_text(
        properties.render(properties.our_properties(user, store=store.archives, ports=ports))
    )
    command = ["torchserve", "--start", "--foreground", "--ncs", "--ts-config", str(config)]
    command += ["--model-store", str(store.archives)]
    from_config = "model_snapshot" in user or "load_models" in user
    if args.models != "all" or not from_config:
        command += ["--models", args.models]
    # KServe's images set TorchServe's envelope through TS_SERVICE_ENVELOPE; ours is the adapter.
    env = {k: v for k, v in os.environ.items() if k != "TS_SERVICE_ENVELOPE"}
    # `torchserve` keeps one pid file in the temp folder and refuses to start a second server
    # beside it: each replica gets a temp folder of its own.
    temp = workdir / "tmp"
    temp.mkdir(exist_ok=True)
    env["TMPDIR"] = str(temp)
    # In the replica's process group: the engine's stop and kill reach TorchServe too.
    child = subprocess.Popen(command, cwd=workdir, env=env)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return asyncio.run(_serve(args, ports, workdir, child))
    finally:
        _stop(child)


async def _serve(
    args: argparse.Namespace, ports: properties.Ports, workdir: Path, child: subprocess.Popen[bytes]
) -> int:
    import uvicorn

    from mlservice.runtime.torchserve.adapter import KEY_FILE, TorchServe, app

    ts = TorchServe(
        inference=properties.http_url("127.0.0.1", ports.inference),
        management=properties.http_url("127.0.0.1", ports.management),
        key_file=workdir / KEY_FILE,
        alias=args.name,
    )
    server = uvicorn.Server(
        uvicorn.Config(app(ts), host="127.0.0.1", port=args.port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not serving.done():
        if child.poll() is not None:
            sys.stderr.write(f"mls: torchserve exited with code {child.returncode}.\n")
            server.should_exit = True
            await serving
            return child.returncode or 1
        await asyncio.sleep(0.5)
    return 0


def _terminate(signum: int, frame: FrameType | None) -> None:
    # uvicorn re-raises the signal that stopped it; this makes it unwind through `finally`.
    raise SystemExit(128 + signum)


def _stop(child: subprocess.Popen[bytes]) -> None:
    """TorchServe's tree (its launcher, the JVM, the Python workers), gently first: the JVM
    outlives the `torchserve` script that started it, so each process is signalled."""
    tree = [child.pid, *descendants(child.pid)]
    _signal(tree, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline and any(_alive(pid) for pid in tree):
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(0.1)
    _signal([pid for pid in tree if _alive(pid)], signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(1)


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`, from /proc (empty where there is none)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.parent.name))
    found, todo = [], [pid]
    while todo:
        for kid in parents.get(todo.pop(), []):
            found.append(kid)
            todo.append(kid)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _signal(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)
