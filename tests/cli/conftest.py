from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from mlservice.cli.background import UpProcess

_serial = itertools.count()
Mls = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def mls_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    """One real `mls up` for the CLI tests; each test works in its own namespace. The API alone:
    controllers would write the status these tests write themselves."""
    with UpProcess(tmp_path_factory.mktemp("home"), args=("--api-port", "0", "--api-only")) as up:
        yield up


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:50]
    return f"{slug}-{next(_serial)}".strip("-")


@pytest.fixture
def mls(mls_up: UpProcess) -> Mls:
    """Run `mls ARGS...` as a user would, finding the API through MLS_HOME alone."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLS_API", "MLS_TOKEN")}
    env["MLS_HOME"] = str(mls_up.home.root)

    def run(
        *args: str, stdin: str | None = None, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mlservice", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            env={**env, **(extra_env or {})},
        )

    return run
