"""A real `mls up` for tests, and talking to it as a user does: through `mls` with MLS_HOME,
or the SDK client `UpProcess.client()` gives. Fixtures stay in each folder's conftest (their
scope is the folder's choice) and call these."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlservice.cli.background import UpProcess
from tests.support.cli import mls

# Every port `mls up` (and the demo) listens on, picked free by the system.
FREE_PORTS = (
    "--api-port",
    "0",
    "--api-tls-port",
    "0",
    "--gateway-port",
    "0",
    "--gateway-grpc-port",
    "0",
)
# The whole platform on free ports; crash restarts capped at 2 s so crash tests stay short.
PLATFORM_ARGS = (*FREE_PORTS, "--backoff-cap", "2")
# The API alone: for tests that write status themselves (controllers would overwrite it).
API_ONLY_ARGS = ("--api-port", "0", "--api-tls-port", "0", "--api-only")
SERVICE_KINDS = ("mlservice", "simplemlservice")

_serial = itertools.count()


def up_process(
    home: Path, *, args: Sequence[str] = PLATFORM_ARGS, env: Mapping[str, str] | None = None
) -> UpProcess:
    """`mls up` on `home`, to start with `with`. MLS_HOME in its environment marks every
    replica it starts, so tests.support.processes finds strays; `env` is added to it."""
    return UpProcess(home, args=args, env={**os.environ, **(env or {}), "MLS_HOME": str(home)})


def mls_on(
    up: UpProcess,
    *args: str,
    stdin: str | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """`mls ARGS...` against `up`, finding it through MLS_HOME alone."""
    return mls(*args, home=up.home.root, stdin=stdin, cwd=cwd, timeout=timeout)


def apply(up: UpProcess, manifest: str | Mapping[str, Any], namespace: str) -> None:
    """`mls apply -f -` of one manifest (YAML text, or an object dumped as YAML)."""
    text = manifest if isinstance(manifest, str) else yaml.safe_dump(dict(manifest))
    done = mls_on(up, "apply", "-f", "-", "-n", namespace, stdin=text)
    assert done.returncode == 0, done.stderr


def namespace_name(request: pytest.FixtureRequest, *, limit: int = 50) -> str:
    """A namespace of its own for the requesting test: its name as a DNS label, cut to `limit`
    characters, then a serial so parametrized cases differ."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:limit].strip("-")
    return f"{slug}-{next(_serial)}"


@contextmanager
def scratch_namespace(
    up: UpProcess, request: pytest.FixtureRequest, *, limit: int = 50
) -> Iterator[str]:
    """A namespace for one test whose services are deleted afterwards, so replicas do not
    pile up in a shared `mls up`."""
    name = namespace_name(request, limit=limit)
    yield name
    with up.client() as client:
        for kind in SERVICE_KINDS:
            for obj in client.list(kind, namespace=name):
                client.delete(kind, obj["metadata"]["name"], namespace=name)
