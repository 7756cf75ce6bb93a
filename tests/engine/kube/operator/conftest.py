"""One kmock emulator per test: the operator under test owns what it writes there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.engine.kube.operator.kube_mock import KubeMock


@pytest.fixture
def kube() -> Iterator[KubeMock]:
    with KubeMock() as running:
        yield running
