"""KServe's own SDK (`kserve.KServeClient`, 0.21) against a real `mls up`, through the
kubeconfig `mls up` writes (TLS, its CA, the bearer token): create (typed and as a dict),
get, list, patch and delete an InferenceService, unchanged from a KServe user's script."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlservice.cli.background import UpProcess
from tests.support.paths import REPO
from tests.support.up import API_ONLY_ARGS, up_process

pytestmark = [pytest.mark.e2e]

KSERVE_PYTHON = REPO / ".venv-kserve" / "bin" / "python"
SCRIPT = Path(__file__).with_name("kserve_sdk_script.py")


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    if not KSERVE_PYTHON.exists():
        pytest.skip(f"{KSERVE_PYTHON} is missing: `make test` creates it")
    with up_process(tmp_path_factory.mktemp("kserve") / "home", args=API_ONLY_ARGS) as running:
        yield running


def test_kserve_client_creates_gets_patches_and_deletes(up: UpProcess) -> None:
    done = subprocess.run(
        [str(KSERVE_PYTHON), str(SCRIPT), str(up.home.kubeconfig), "kserve-sdk"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["created"] == "sklearn-iris"
    assert seen["created_dict"] == "from-dict"
    assert seen["format"] == "sklearn"  # the shortcut stored as KServe's webhook stores it
    assert seen["listed"] == ["from-dict", "sklearn-iris"]
    assert seen["canary"] == 10
    assert seen["after_delete"] == []  # nothing listed after delete (KServe kept listing)
