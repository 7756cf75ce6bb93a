"""One real `mls up` for the end-to-end tests (each test in its own namespace), an iris model,
and a `moto_server` for S3. Crash restarts are capped at 2 s so crash tests stay short."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlservice.cli.background import UpProcess
from tests.support.iris import iris_joblib
from tests.support.moto import Moto, running_moto
from tests.support.up import scratch_namespace, up_process


@pytest.fixture(scope="session")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    with up_process(tmp_path_factory.mktemp("e2e") / "home") as running:
        yield running


@pytest.fixture
def namespace(request: pytest.FixtureRequest, up: UpProcess) -> Iterator[str]:
    """A namespace per test; its services are deleted afterwards."""
    with scratch_namespace(up, request, limit=40) as name:
        yield name


@pytest.fixture(scope="session")
def iris_model() -> bytes:
    """A fitted iris classifier as joblib bytes."""
    return iris_joblib()


@pytest.fixture
def volume(up: UpProcess, namespace: str, iris_model: bytes) -> str:
    """A volume named after the test holding `iris/model.joblib`; its name."""
    folder = up.home.volume(namespace) / "iris"
    folder.mkdir(parents=True)
    (folder / "model.joblib").write_bytes(iris_model)
    return namespace


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    with running_moto(tmp_path_factory.mktemp("moto"), record=False) as server:
        yield server
