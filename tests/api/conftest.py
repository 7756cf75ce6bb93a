from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client as kube

from mlservice.cli.background import UpProcess
from tests.support.up import API_ONLY_ARGS, namespace_name, up_process


@pytest.fixture(scope="session")
def mls_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    """One real `mls up` for the API tests; each test works in its own namespace. The API alone:
    controllers would write the status these tests write themselves."""
    with up_process(tmp_path_factory.mktemp("home"), args=API_ONLY_ARGS) as up:
        yield up


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    return namespace_name(request)


def kube_config(host: str, token: str | None) -> kube.Configuration:
    config = kube.Configuration(host=host)
    if token is not None:
        config.api_key = {"authorization": token}
        config.api_key_prefix = {"authorization": "Bearer"}
    return config


@pytest.fixture
def kube_api(mls_up: UpProcess) -> Iterator[kube.ApiClient]:
    with kube.ApiClient(kube_config(mls_up.api, mls_up.token)) as api:
        yield api
