"""The repository's parts without a server: sizes, settings files, layout, and the LRU budget."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from mlservice.errors import InvalidInput, ModelFormatError, ModelNotFound, Unavailable
from mlservice.server.dataplane import DataPlane
from mlservice.server.repository.memory import parse_bytes
from mlservice.server.repository.settings import read_settings
from mlservice.server.repository.store import (
    ModelRepository,
    RepositoryConfig,
    is_repository,
    parse_load_models,
)
from tests.server.test_repository import make_repository


@pytest.mark.parametrize(
    ("text", "size"),
    [("512Mi", 512 * 2**20), ("1G", 10**9), ("300MB", 300 * 10**6), ("2GiB", 2 * 2**30),
     ("1048576", 2**20), (" 1.5Ki ", 1536)],
)  # fmt: skip
def test_sizes_take_kubernetes_and_byte_units(text: str, size: int) -> None:
    assert parse_bytes(text, field="--max-models-memory") == size


@pytest.mark.parametrize("text", ["", "lots", "-1Mi", "0", "5Xi"])
def test_a_bad_size_names_the_flag(text: str) -> None:
    with pytest.raises(InvalidInput, match="--max-models-memory"):
        parse_bytes(text, field="--max-models-memory")


def test_load_models_all_none_or_names() -> None:
    assert parse_load_models("all") is None
    assert parse_load_models("none") == ()
    assert parse_load_models("a, b,") == ("a", "b")


def test_settings_file_is_mlserver_shaped(tmp_path: Path) -> None:
    doc = {
        "name": "iris",
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"version": "3", "uri": "./model.joblib"},
        "max_batch_size": 8,
        "max_batch_time": 0.01,
        "memory": "64Mi",
        "parallel_workers": 2,
    }
    (tmp_path / "model-settings.json").write_text(json.dumps(doc))
    settings = read_settings(tmp_path)
    assert settings.name == "iris"
    assert settings.format == "sklearn"
    assert settings.parameters.version == "3"
    assert settings.batching is not None
    assert (settings.batching.max_size, settings.batching.max_delay_seconds) == (8, 0.01)
    assert settings.memory_bytes("x") == 64 * 2**20
    assert read_settings(tmp_path / "missing").name is None


@pytest.mark.parametrize(
    ("doc", "cause"),
    [({"name": "../x"}, "name"), ({"max_batch_size": -1}, "max_batch_size"),
     ({"memory": "much"}, "memory"), ([], "(top)")],
)  # fmt: skip
def test_a_bad_settings_file_names_its_field(tmp_path: Path, doc: Any, cause: str) -> None:
    (tmp_path / "model-settings.json").write_text(json.dumps(doc))
    with pytest.raises(ModelFormatError, match=r"model-settings\.json") as bad:
        read_settings(tmp_path)
    assert cause in bad.value.message


def test_a_repository_is_a_folder_of_model_folders(tmp_path: Path, iris: tuple[Any, Any]) -> None:
    make_repository(tmp_path, iris, ("a", "b"))
    assert is_repository(tmp_path)
    assert not is_repository(tmp_path / "a")  # a model folder
    assert not is_repository(tmp_path / "a" / "model.joblib")
    (tmp_path / "model.joblib").write_bytes((tmp_path / "a" / "model.joblib").read_bytes())
    assert not is_repository(tmp_path)  # a model of its own: served as one model


def _repository(root: Path, **options: Any) -> tuple[ModelRepository, DataPlane]:
    dataplane = DataPlane()
    return ModelRepository(RepositoryConfig(root, **options), dataplane), dataplane


def test_load_models_must_name_models_of_the_repository(
    tmp_path: Path, iris: tuple[Any, Any]
) -> None:
    make_repository(tmp_path, iris, ("a",))
    with pytest.raises(ModelNotFound, match="--load-models names zz, not in repository"):
        _repository(tmp_path, load_at_start=("zz",))


def test_lazy_models_load_on_first_request_and_too_big_is_refused(
    tmp_path: Path, iris: tuple[Any, Any]
) -> None:
    make_repository(tmp_path, iris, ("a", "b"))
    store, dataplane = _repository(tmp_path, load_at_start=(), max_memory=30 * 2**20)
    row = {"instances": [[5.1, 3.5, 1.4, 0.2]]}

    async def scenario() -> None:
        async with store.running():
            await asyncio.sleep(0)
            assert dataplane.ready()  # nothing to load at start
            assert not dataplane.model_ready("a")
            with pytest.raises(Unavailable, match=r"needs 40\.0 MiB, more than"):
                await dataplane.infer("a", row, {})
            (tmp_path / "a" / "model-settings.json").write_text('{"memory": "10Mi"}')
            assert (await dataplane.infer("a", row, {}))["predictions"].tolist() == [0]
            assert [e.state for e in store.index()] == ["READY", "UNAVAILABLE"]
            with pytest.raises(Unavailable):
                await dataplane.infer("b", row, {})
            assert (
                store.index()[1].reason
                == "Model b needs 40.0 MiB, more than --max-models-memory (30.0 MiB)."
            )
        await dataplane.stop()

    asyncio.run(scenario())


def _serve(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[Any, list[Any]]:
    import typer
    from typer.testing import CliRunner

    from mlservice.server import runner
    from mlservice.server.command import serve

    seen: list[Any] = []

    def record(config: Any, repository: Any = None) -> int:
        seen.append((config, repository))
        return 0

    monkeypatch.setattr(runner, "run", record)
    app = typer.Typer(add_completion=False)
    app.command(name="serve")(serve)
    env = {"PORT": None, "GRPC_PORT": None, "PREDICTOR_HOST": None, "MLS_RELEASE": None}
    return CliRunner().invoke(app, list(args), env=env), seen


def test_repository_flags_reach_the_runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result, seen = _serve(
        monkeypatch, "--model-repository", str(tmp_path), "--load-models", "a,b",
        "--max-models-memory", "1Gi", "--format", "sklearn",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ((config, repository),) = seen
    assert repository == RepositoryConfig(
        tmp_path, load_at_start=("a", "b"), max_memory=2**30, format="sklearn"
    )
    assert config.model_dir == tmp_path  # no --name needed


@pytest.mark.parametrize(
    ("args", "message"),
    [(("x", "--name", "m", "--max-models-memory", "1G"), "need --model-repository"),
     (("--model-repository", ".", "--max-models-memory", "lots"), "not a size in bytes")],
)  # fmt: skip
def test_repository_flags_are_checked(
    monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], message: str
) -> None:
    result, seen = _serve(monkeypatch, *args)
    assert result.exit_code == 1
    assert message in result.output
    assert seen == []
