"""The Python in the docs runs: each ```python block of docs/*.md and README.md, against a real
`mls up` serving the demo's `digits` (models trained as `make run` does), with the gateway's
real address in place of the default 127.0.0.1:8080 and MLS_HOME naming its data dir."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlservice.cli.background import UpProcess
from mlservice.demo import digits
from tests.docs.docs_lib import DOCS, Block, blocks
from tests.support.cli import user_env
from tests.support.paths import EXAMPLES, REPO
from tests.support.up import FREE_PORTS, up_process

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
UP_ARGS = FREE_PORTS
PYTHON = [b for doc in DOCS for b in blocks(doc) if b.language == "python"]


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    home = tmp_path_factory.mktemp("docs") / "home"
    digits.train(home / "volumes" / "demo")
    args = [*UP_ARGS, "--apply", str(EXAMPLES / "demo.yaml")]
    with up_process(home, args=args) as running:
        with running.client() as client:
            client.wait_ready("mlservice", "digits", timeout=120)
        yield running


def test_the_docs_have_python_for_every_protocol() -> None:
    text = "\n".join(b.text for b in PYTHON)
    for needed in ("tritonclient.http", "tritonclient.grpc", "Client()", "httpx", "Model"):
        assert needed in text, needed


@pytest.mark.timeout(180)
@pytest.mark.parametrize("block", PYTHON, ids=lambda b: b.where)
def test_python_block_runs(up: UpProcess, block: Block, tmp_path: Path) -> None:
    gateway = str(up.endpoints["gateway"])
    code = block.text.replace("http://127.0.0.1:8080", gateway)
    code = code.replace("127.0.0.1:8080", gateway.removeprefix("http://"))
    code = code.replace("127.0.0.1:8081", str(up.endpoints["gateway_grpc"]))
    code = code.replace("/tmp/mls-home", str(tmp_path / "home"))
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=user_env(up.home.root),
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, f"{block.where}:\n{code}\n{done.stdout}\n{done.stderr}"
