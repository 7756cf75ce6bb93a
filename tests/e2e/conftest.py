"""One real `mls up` for the end-to-end tests (each test in its own namespace), an iris model,
and a `moto_server` for S3. Crash restarts are capped at 2 s so crash tests stay short."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from e2e_helpers import Moto, running_moto, up_process

from mlservice.cli.background import UpProcess


@pytest.fixture(scope="session")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    with up_process(tmp_path_factory.mktemp("e2e") / "home") as running:
        yield running


@pytest.fixture
def namespace(request: pytest.FixtureRequest, up: UpProcess) -> Iterator[str]:
    """A namespace per test; its services are deleted afterwards, so replicas do not pile up
    in the shared `mls up`."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    yield name
    with up.client() as client:
        for kind in ("mlservice", "simplemlservice"):
            for obj in client.list(kind, namespace=name):
                client.delete(kind, obj["metadata"]["name"], namespace=name)


@pytest.fixture(scope="session")
def iris_model() -> bytes:
    """A fitted iris classifier as joblib bytes."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    buffer = io.BytesIO()
    joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), buffer)
    return buffer.getvalue()


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
