"""Built-in runtimes: what ships, how it installs, and the TorchServe launcher."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mlservice.controller.builtin import install_builtin_runtimes
from mlservice.resources import MLService, parse_as
from mlservice.runtime import BUILTIN_NAMESPACE, kserve, render_replica, select_runtime
from mlservice.runtime.builtin import required_programs, runtimes
from mlservice.store import Key
from mlservice.store.sqlite import SqliteStore
from tests.support.ports import free_port

FORMATS = ["lightgbm", "onnx", "python", "pytorch", "sklearn", "torchserve", "xgboost"]


def service(fmt: str, parameters: dict[str, str] | None = None) -> MLService:
    model = {"modelFormat": {"name": fmt}, "modelUri": "pvc://m/x/"}
    if parameters:
        model["parameters"] = parameters  # type: ignore[assignment]
    return parse_as(
        MLService,
        {
            "apiVersion": "tensorstack.dev/v1beta1",
            "kind": "MLService",
            "metadata": {"name": "svc", "namespace": "team"},
            "spec": {"default": "v1", "releases": [{"name": "v1", "predictor": {"model": model}}]},
        },
    )


def test_each_format_gets_mls_serve_with_its_format() -> None:
    shipped = runtimes()
    assert [r.name for r in shipped] == sorted([*FORMATS, "torchserve-java"])
    assert {r.namespace for r in shipped} == {BUILTIN_NAMESPACE}
    for fmt in FORMATS:
        svc = service(fmt)
        release = svc.spec.releases[0]
        runtime = select_runtime(release.predictor.model, namespace="team", runtimes=shipped)
        assert runtime.name == fmt  # neither TorchServe runtime wins pytorch by itself
        rendered = render_replica(service=svc, release=release, runtime=runtime).container
        argv = [*rendered.command, *rendered.args]
        assert argv == [
            "mls", "serve", "$(MODEL_DIR)", "--name", "svc", "--format", fmt,
            "--port", "$(PORT)", "--grpc-port", "$(GRPC_PORT)",
        ]  # fmt: skip
    named = service("sklearn", {"MODEL_NAME": "iris"})
    release = named.spec.releases[0]
    runtime = select_runtime(release.predictor.model, namespace="team", runtimes=shipped)
    assert (
        render_replica(service=named, release=release, runtime=runtime).container.args[2] == "iris"
    )
    java = next(r for r in shipped if r.name == "torchserve-java")
    assert required_programs(java) == ["torchserve", "java"]


def test_install_is_idempotent_and_restores_edits() -> None:
    store = SqliteStore.in_memory()
    assert len(install_builtin_runtimes(store)) == 8 + len(kserve.names())
    assert install_builtin_runtimes(store) == []
    cluster = Key("serving.kserve.io", "ClusterServingRuntime", "", "kserve-sklearnserver")
    assert store.get(cluster)["spec"]["supportedModelFormats"][0]["name"] == "sklearn"
    edited_cluster = store.get(cluster)
    edited_cluster["spec"]["disabled"] = True
    store.replace(edited_cluster)
    assert install_builtin_runtimes(store) == ["kserve-sklearnserver"]
    assert "disabled" not in store.get(cluster)["spec"]
    key = Key("tensorstack.dev", "MLServiceRuntime", BUILTIN_NAMESPACE, "sklearn")
    edited = store.get(key)
    edited["spec"]["enabled"] = False
    store.replace(edited)
    assert install_builtin_runtimes(store) == ["sklearn"]
    assert store.get(key)["spec"]["enabled"] is True


def launcher(tmp_path: Path, path: str, ports: tuple[int, int]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "mlservice.runtime.builtin.torchserve"]
    argv += ["--port", str(ports[0]), "--grpc-port", str(ports[1]), "--model-store", "/models"]
    argv += ["--models", "mnist=mnist.mar"]
    env = {**os.environ, "PATH": path}
    return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)


def test_torchserve_launcher_writes_its_config_then_starts_torchserve(tmp_path: Path) -> None:
    port, grpc_port = free_port(), free_port()  # the adapter's, TorchServe's gRPC
    missing = launcher(tmp_path, "/nonexistent", (port, grpc_port))
    assert (missing.returncode, missing.stderr) == (
        127,
        "mls: torchserve, java not found on PATH: cannot run TorchServe.\n",
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program, script in (("torchserve", 'echo "$@" > argv; exit 3'), ("java", "exit 0")):
        (bin_dir / program).write_text(f"#!/bin/sh\n{script}\n")
        (bin_dir / program).chmod(0o755)
    ran = launcher(tmp_path, f"{bin_dir}:/usr/bin:/bin", (port, grpc_port))
    assert ran.returncode == 3, ran.stderr  # TorchServe's exit ends the replica
    assert "mls: torchserve exited with code 3." in ran.stderr
    config = tmp_path / "config.properties"
    assert (tmp_path / "argv").read_text().split() == [
        "--start", "--foreground", "--ncs", "--ts-config", str(config),
        "--model-store", "/models", "--models", "mnist=mnist.mar",
    ]  # fmt: skip
    settings = dict(line.split("=", 1) for line in config.read_text().splitlines())
    assert settings["inference_address"].startswith("http://127.0.0.1:")
    assert settings["inference_address"] != f"http://127.0.0.1:{port}"  # the adapter's port
    assert settings["grpc_inference_port"] == str(grpc_port)
    assert settings["model_store"] == "/models"
    assert settings["management_address"].startswith("http://127.0.0.1:")
