"""`mls serve` takes KServe's ModelServer flags, so a copied runtime's args run unchanged."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner, Result

from mlservice.runtime.kserve import manifests
from mlservice.runtime.kserve_container import local_container
from mlservice.server import runner
from mlservice.server.command import serve
from mlservice.server.config import KSERVE_NO_EFFECT, ServerConfig, kserve_bool
from tests.server.server_procs import Launcher

NO_PORTS = {"PORT": None, "GRPC_PORT": None, "PREDICTOR_HOST": None, "MLS_RELEASE": None}


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[ServerConfig]:
    """The configs `mls serve` would run with: the runner is the seam, swapped for a recorder."""
    seen: list[ServerConfig] = []

    def record(config: ServerConfig) -> int:
        seen.append(config)
        return 0

    monkeypatch.setattr(runner, "run", record)
    return seen


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    app = typer.Typer(add_completion=False)
    app.command(name="serve")(serve)
    return CliRunner().invoke(app, list(args), env={**NO_PORTS, **(env or {})})


def test_kserve_spellings_set_the_same_config(started: list[ServerConfig]) -> None:
    kserve = invoke(
        "--model_name=iris",
        "--model_dir=/mnt/models",
        "--http_port=8123",
        "--grpc_port=8124",
        "--workers=2",
        "--predictor_host=127.0.0.1:9000",
        "--predictor_protocol=v2",
    )
    ours = invoke(
        "/mnt/models",
        "--name",
        "iris",
        "--port",
        "8123",
        "--grpc-port",
        "8124",
        "--workers",
        "2",
        "--predictor-host",
        "127.0.0.1:9000",
        "--predictor-protocol",
        "v2",
    )
    assert (kserve.exit_code, ours.exit_code) == (0, 0), kserve.output + ours.output
    assert started[0] == started[1]
    assert (started[0].name, started[0].model_dir) == ("iris", Path("/mnt/models"))
    assert (started[0].port, started[0].grpc_port, started[0].workers) == (8123, 8124, 2)
    assert started[0].predictor is not None
    assert started[0].predictor.protocol == "v2"


def test_the_old_protocol_flag_names_the_predictors_protocol(started: list[ServerConfig]) -> None:
    assert invoke("m", "--name=m", "--predictor_host=h:1", "--protocol=v1").exit_code == 0
    assert started[0].predictor is not None
    assert started[0].predictor.protocol == "v1"


def test_the_engines_ports_still_come_from_the_environment(started: list[ServerConfig]) -> None:
    result = invoke("--model_name=m", "--model_dir=/m", env={"PORT": "20001", "GRPC_PORT": "20002"})
    assert result.exit_code == 0, result.output
    assert (started[0].port, started[0].grpc_port) == (20001, 20002)


@pytest.mark.parametrize(("value", "grpc"), [("false", None), ("0", None), ("True", 20002)])
def test_enable_grpc_takes_kserves_booleans(
    started: list[ServerConfig], value: str, grpc: int | None
) -> None:
    result = invoke("m", "--name=m", f"--enable_grpc={value}", env={"GRPC_PORT": "20002"})
    assert result.exit_code == 0, result.output
    assert started[0].grpc_port == grpc


def test_a_bad_boolean_is_refused(started: list[ServerConfig]) -> None:
    result = invoke("m", "--name=m", "--enable_grpc=maybe")
    assert result.exit_code == 1
    assert "--enable_grpc: 'maybe' is not a boolean" in result.stderr
    assert started == []


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (("--name=m",), 2, "'MODEL_DIR': missing (or KServe's --model_dir)"),
        (("/m",), 2, "'--name': missing (or KServe's --model_name)"),
        (("/a", "--model_dir=/b", "--name=m"), 1, "MODEL_DIR /a and --model_dir /b name different"),
    ],
)
def test_the_model_folder_and_name_are_required(
    started: list[ServerConfig], args: tuple[str, ...], code: int, error: str
) -> None:
    result = invoke(*args)
    assert result.exit_code == code
    assert error in result.stderr
    assert started == []


def test_the_same_folder_twice_is_fine(started: list[ServerConfig]) -> None:
    assert invoke("/a", "--model_dir=/a", "--name=m").exit_code == 0
    assert started[0].model_dir == Path("/a")


def test_flags_of_kserves_own_server_are_accepted_with_a_note(
    started: list[ServerConfig],
) -> None:
    flags = [f"{flag}=1" for flag in KSERVE_NO_EFFECT]
    result = invoke("m", "--name=m", *flags)
    assert result.exit_code == 0, result.output
    for flag, why in KSERVE_NO_EFFECT.items():
        assert f"mls serve: {flag} has no effect here ({why})." in result.stderr
    assert started[0] == ServerConfig(model_dir=Path("m"), name="m")


def test_an_unknown_flag_is_still_an_error(started: list[ServerConfig]) -> None:
    result = invoke("m", "--name=m", "--max_thread=4")
    assert result.exit_code == 2
    assert started == []


@pytest.mark.parametrize(
    ("text", "value"), [("yes", True), ("On", True), ("1", True), ("n", False), ("OFF", False)]
)
def test_kserve_bool(text: str, value: bool) -> None:
    assert kserve_bool(text) is value


# kserve-torchserve-java runs the real TorchServe (tests/runtime/test_torchserve_java.py).
MLS_SERVE = [m for m in manifests() if "command" not in m["spec"]["containers"][0]]
# KServe's pytorch format is a TorchServe model store, which `mls serve` calls torchserve.
SERVED_AS = {"pytorch": "torchserve"}


@pytest.mark.parametrize("manifest", MLS_SERVE, ids=[m["metadata"]["name"] for m in MLS_SERVE])
def test_the_builtin_runtimes_args_parse_as_mls_serve(
    started: list[ServerConfig], manifest: dict[str, Any]
) -> None:
    container = local_container(
        manifest["spec"]["containers"][0], metadata={"name": "iris"}, where="test"
    )
    argv = [a.replace("$(PORT)", "20001") for a in [*container["command"], *container["args"]]]
    assert argv[:2] == ["mls", "serve"]
    result = invoke(*argv[2:])
    assert result.exit_code == 0, result.output
    fmt = manifest["spec"]["supportedModelFormats"][0]["name"]
    assert started[0].format == SERVED_AS.get(fmt, fmt)
    assert (started[0].name, started[0].model_dir, started[0].port) == (
        "iris",
        Path("/mnt/models"),
        20001,
    )


@pytest.mark.e2e
def test_a_copied_sklearnserver_argv_serves_predictions(
    launcher: Launcher, sklearn_model: Any, tmp_path: Path
) -> None:
    import joblib

    joblib.dump(sklearn_model, tmp_path / "model.joblib")
    argv = [sys.executable, "-m", "mlservice", "serve", "--format", "sklearn"]
    argv += ["--model_name=iris", f"--model_dir={tmp_path}", "--http_port=0", "--nthread=1"]
    served = launcher.spawn(argv, name="kserve-flags")
    answer = httpx.post(
        f"{served.url}/v1/models/iris:predict", json={"instances": [[6.8, 2.8, 4.8, 1.4]]}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": [1]}
    assert "--nthread has no effect here" in served.log_text()
    served.stop()
