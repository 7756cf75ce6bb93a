from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlservice.cli.background import UpProcess
from tests.support.up import up_process


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    """One whole `mls up` for the tests that read replicas as Pods; a namespace per test."""
    with up_process(tmp_path_factory.mktemp("platform") / "home") as up:
        yield up
