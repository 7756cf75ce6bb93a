"""Every example against one real `mls up`: its models made by examples/make_models.py (the S3
ones uploaded to a moto_server the example Secrets are pointed at), applied in batches with
`mls apply`; each runnable service reaches Ready and answers its `# Try:` commands (a 3 for the
3 in examples/data), and one that needs an absent program says so (RuntimeUnavailable)."""

from __future__ import annotations

import base64
import contextlib
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from mlservice.cli.background import UpProcess
from mlservice.errors import NotFound
from tests.e2e.test_torchserve import EXAMPLE_FILES as TORCHSERVE_E2E_FILES
from tests.examples.examples_lib import (
    SERVICE_KINDS,
    Example,
    load,
    load_all,
    predicted_digit,
)
from tests.support.moto import moto_server
from tests.support.paths import REPO
from tests.support.polling import wait_until
from tests.support.processes import wait_no_processes
from tests.support.up import mls_on, up_process

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
MOTO_PORT_IN_EXAMPLES = "127.0.0.1:9000"
READY_WITHIN = 150.0
# Batches keep the machine's load bounded: the TorchScript services, the sklearn multi-release
# ones, then storage and the SimpleMLServices. The demo's own manifest is tests/demo's.
BATCHES = {
    "torch": [
        "mlservice/torch-mnist.yaml",
        "mlservice/demo-runtime.yaml",
        "mlservice/demo-parameters.yaml",
        "mlservice/demo-patch.yaml",
        "mlservice/demo-resources.yaml",
        "mlservice/logger.yaml",
    ],
    "releases": [
        "mlservice/multi-releases.yaml",
        "mlservice/canary.yaml",
        "mlservice/shadow.yaml",
        "mlservice/canary-analysis.yaml",
        "mlservice/transformer.yaml",
        "mlservice/autoscaling.yaml",
        "mlservice/scale-to-zero.yaml",
    ],
    # KServe: the runtime before the InferenceService naming it; the reference's manifests that
    # cannot run here settle on their reason (NOT_HERE).
    "kserve": [
        "kserve/servingruntime.yaml",
        "kserve/custom-runtime.yaml",
        "kserve/sklearn-iris-pvc.yaml",
        "kserve/transformer.yaml",
        "kserve/sklearn-iris.yaml",
        "kserve/flowers-tensorflow.yaml",
        "kserve/torchserve-nllb.yaml",
        "kserve/torchserve-digits.yaml",
    ],
    # TorchServe model stores (examples/torchserve/), natively; the real TorchServe's example
    # runs in tests/e2e/test_torchserve.py (RUN_ELSEWHERE).
    "torchserve": [
        "mlservice/torchserve-digits.yaml",
        "mlservice/torchserve-sentiment.yaml",
    ],
    "storage-and-simple": [
        "mlservice/pvc-storage.yaml",
        "mlservice/s3-storage.yaml",
        "mlservice/scheduler.yaml",
        "simplemlservice/custom.yaml",
        "simplemlservice/pvc-storage.yaml",
        "simplemlservice/pytorch.yaml",
        "simplemlservice/sample.yaml",
        "simplemlservice/scheduler.yaml",
        "simplemlservice/service-port.yaml",
    ],
}
BASE = ["volumes", "secrets", "runtimes"]
# The reference's InferenceServices this machine cannot run, with the reason KServe would give.
NOT_HERE = {
    "kserve/sklearn-iris.yaml": "UnsupportedStorageUri",  # gs://
    "kserve/flowers-tensorflow.yaml": "NoSupportingRuntime",  # no tensorflow runtime
    "kserve/torchserve-nllb.yaml": "ModelDownloadFailed",  # the reference's own volume
}
# Examples another end-to-end test applies and asks its `# Try:` request, so they are not
# started twice: a second TorchServe JVM here would add ~40 s to the suite.
RUN_ELSEWHERE = {"mlservice/torchserve-java.yaml": "tests/e2e/test_torchserve.py"}
CANARY_STEPS = sorted((REPO / "examples" / "kserve" / "canary").glob("*.yaml"))
CLI_KINDS = {
    "MLService": "mlservice",
    "SimpleMLService": "simplemlservice",
    "InferenceService": "isvc",
    "ServingRuntime": "servingruntime",
}
# What a command sends when it sends the digit 3: the sample files, or its 8x8 array inline.
THREES = ("examples/data/3", "[[[0,0,7,15,13,1,0,0]")


def test_the_batches_hold_every_service_example_once() -> None:
    batched = [rel for batch in BATCHES.values() for rel in batch]
    services = [e.rel for e in load_all() if e.kind in (*SERVICE_KINDS, "ServingRuntime")]
    walked = {f"kserve/canary/{p.name}" for p in CANARY_STEPS}
    elsewhere = {"demo.yaml", *walked, *RUN_ELSEWHERE}
    assert sorted(batched) == sorted(s for s in services if s not in elsewhere)
    assert set(NOT_HERE) <= set(batched)
    assert set(RUN_ELSEWHERE) <= set(TORCHSERVE_E2E_FILES.values())


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An S3 endpoint on a free port; the example Secrets are rewritten to point at it."""
    with moto_server(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory, moto: str) -> Iterator[UpProcess]:
    home = tmp_path_factory.mktemp("examples") / "home"
    env = {**os.environ, "MLS_HOME": str(home)}  # where make_models.py puts the volumes
    made = subprocess.run(
        [sys.executable, str(REPO / "examples" / "make_models.py"), "--s3", moto],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert "uploaded s3://models/example/model.joblib" in made.stdout, made.stdout
    assert "skipped" not in made.stdout, made.stdout  # torch is in the dev install
    with up_process(home) as running:
        _apply_base(running, moto)
        yield running
    wait_no_processes(home)


def _apply_base(up: UpProcess, moto: str) -> None:
    """Volumes, runtimes and the Secrets (pointed at moto) through `mls apply -f DIR`."""
    folder = up.home.root / "base"
    for name in BASE:
        shutil.copytree(REPO / "examples" / name, folder / name)
    for path in (folder / "secrets").glob("*.yaml"):
        path.write_text(_pointed_at(path.read_text(), moto))
    done = mls_on(up, "apply", "-f", str(folder), cwd=REPO)
    assert done.returncode == 0, done.stderr


def _pointed_at(text: str, endpoint: str) -> str:
    """A Secret manifest whose .s3cfg names `endpoint` instead of 127.0.0.1:9000."""
    host = endpoint.removeprefix("http://")
    manifest = yaml.safe_load(text)
    if ".s3cfg" in manifest.get("stringData", {}):
        manifest["stringData"][".s3cfg"] = manifest["stringData"][".s3cfg"].replace(
            MOTO_PORT_IN_EXAMPLES, host
        )
    else:
        raw = base64.b64decode(manifest["data"][".s3cfg"]).decode()
        raw = raw.replace(MOTO_PORT_IN_EXAMPLES, host)
        manifest["data"][".s3cfg"] = base64.b64encode(raw.encode()).decode()
    return str(yaml.safe_dump(manifest))


def _kind(example: Example) -> str:
    return CLI_KINDS[example.kind]


def _settled(example: Example, obj: dict[str, Any]) -> bool:
    """Ready, or, for one that needs a program this machine lacks, refused for that reason;
    a reference InferenceService that cannot run here, refused for KServe's reason."""
    status = obj.get("status") or {}
    ready = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})
    if example.rel in NOT_HERE:
        return (ready.get("status"), ready.get("reason")) == ("False", NOT_HERE[example.rel])
    if example.kind == "InferenceService":
        return ready.get("status") == "True"
    missing = [p for p in example.programs if shutil.which(p) is None]
    if not missing:
        return bool(status.get("ready"))
    return ready.get("reason") == "RuntimeUnavailable" and missing[0] in ready.get("message", "")


def _wait_settled(up: UpProcess, examples: list[Example]) -> None:
    pending = [e for e in examples if e.kind in SERVICE_KINDS]
    with up.client() as client:

        def all_settled() -> bool:
            nonlocal pending
            objects = [client.get(_kind(e), e.name) for e in pending]
            pending = [e for e, o in zip(pending, objects, strict=True) if not _settled(e, o)]
            return not pending

        def late() -> str:
            statuses = {e.rel: client.get(_kind(e), e.name).get("status") for e in pending}
            return f"every example to settle; not yet:\n{yaml.safe_dump(statuses)}"

        wait_until(all_settled, timeout=READY_WITHIN, interval=0.5, message=late)


def _try(up: UpProcess, command: str) -> None:
    """One `# Try:` command as the user runs it from the repository root; curl against the
    gateway's real address, `mls` with this data dir."""
    if command.startswith("mls "):
        done = mls_on(up, *shlex.split(command)[1:], cwd=REPO)
        assert done.returncode == 0, f"{command}: {done.stderr}"
        return
    gateway = str(up.endpoints["gateway"])
    real = command.replace("http://127.0.0.1:8080", gateway) + " --fail-with-body"
    done = subprocess.run(
        ["bash", "-c", real], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"{real}: {done.stdout} {done.stderr}"
    if any(three in command for three in THREES):
        assert predicted_digit(done.stdout) == 3, f"{real}: {done.stdout}"


@pytest.mark.timeout(READY_WITHIN + 240)
@pytest.mark.parametrize("batch", BATCHES)
def test_examples_apply_reach_ready_and_answer(up: UpProcess, batch: str) -> None:
    examples = [load(REPO / "examples" / rel) for rel in BATCHES[batch]]
    files = [arg for e in examples for arg in ("-f", str(e.path))]
    try:
        applied = mls_on(up, "apply", *files, cwd=REPO)
        assert applied.returncode == 0, applied.stderr
        _wait_settled(up, examples)
        for example in examples:
            if all(shutil.which(p) for p in example.programs):
                for command in example.tries:
                    if command.startswith(("curl ", "mls ")):
                        _try(up, command)
    finally:
        with up.client() as client:
            for example in examples:
                with contextlib.suppress(NotFound):
                    client.delete(_kind(example), example.name)


def _traffic(obj: dict[str, Any]) -> list[tuple[str | None, str, int]]:
    predictor = obj["status"]["components"]["predictor"]
    return [(t.get("tag"), t["revisionName"], t["percent"]) for t in predictor.get("traffic", [])]


def _revision(number: int) -> str:
    return f"sklearn-iris-canary-predictor-{number:05d}"


# What status.components.predictor.traffic holds after each step of the walk-through.
CANARY_TRAFFIC = [
    [(None, _revision(1), 100)],
    [("latest", _revision(2), 10), ("prev", _revision(1), 90)],
    [(None, _revision(2), 100)],
    [("latest", _revision(3), 0), ("prev", _revision(2), 100)],
]


@pytest.mark.timeout(READY_WITHIN + 120)
def test_kserve_canary_walkthrough_moves_traffic_step_by_step(up: UpProcess) -> None:
    """examples/kserve/canary/ applied in order, as examples/README.md walks through it."""
    assert len(CANARY_STEPS) == len(CANARY_TRAFFIC)
    steps = [load(path) for path in CANARY_STEPS]
    name = steps[0].name
    try:
        with up.client() as client:
            for step, expected in zip(steps, CANARY_TRAFFIC, strict=True):
                applied = mls_on(up, "apply", "-f", str(step.path), cwd=REPO)
                assert applied.returncode == 0, applied.stderr

                def moved(expected: list[tuple[str | None, str, int]] = expected) -> bool:
                    obj = client.get("isvc", name)
                    ready = [c for c in obj["status"].get("conditions", []) if c["type"] == "Ready"]
                    return (
                        bool(ready) and ready[0]["status"] == "True" and (_traffic(obj) == expected)
                    )

                wait_until(
                    moved,
                    timeout=READY_WITHIN,
                    interval=0.3,
                    message=lambda rel=step.rel: f"{rel}: {client.get('isvc', name).get('status')}",
                )
                for command in step.tries:
                    _try(up, command)
            promoted = client.get("isvc", name)["status"]["components"]["predictor"]
            assert promoted["previousRolledoutRevision"] == _revision(1)
            assert promoted["latestRolledoutRevision"] == _revision(2)
    finally:
        with up.client() as client, contextlib.suppress(NotFound):
            client.delete("isvc", name)
