from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator

import pytest

from mlservice.cli.background import UpProcess
from tests.support import cli
from tests.support.up import API_ONLY_ARGS, namespace_name, up_process

Mls = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def mls_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    """One real `mls up` for the CLI tests; each test works in its own namespace. The API alone:
    controllers would write the status these tests write themselves."""
    with up_process(tmp_path_factory.mktemp("home"), args=API_ONLY_ARGS) as up:
        yield up


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    return namespace_name(request)


@pytest.fixture
def mls(mls_up: UpProcess) -> Mls:
    """Run `mls ARGS...` as a user would, finding the API through MLS_HOME alone."""

    def run(
        *args: str, stdin: str | None = None, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return cli.mls(*args, home=mls_up.home.root, stdin=stdin, env=extra_env)

    return run
