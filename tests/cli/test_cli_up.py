"""`mls up`: free ports, endpoints.json, --apply, one supervisor per home, restarts keep state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from mlservice.cli.background import UpProcess
from mlservice.cli.up import parse_port_range
from mlservice.errors import InvalidInput
from tests.support.cli import mls
from tests.support.polling import wait_until
from tests.support.up import API_ONLY_ARGS

pytestmark = pytest.mark.e2e

MANIFEST = """
apiVersion: tensorstack.dev/v1beta1
kind: MLService
metadata: {name: kept}
spec:
  default: v1
  releases:
    - name: v1
      predictor: {model: {modelFormat: {name: sklearn}, modelUri: "pvc://models/kept/"}}
---
apiVersion: v1
kind: Secret
metadata: {name: kept, namespace: other}
stringData: {a: b}
"""


def run_up(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return mls("up", "--home", str(home), *args)


def snapshot(up: UpProcess) -> dict[str, dict[str, object]]:
    with up.client() as client:
        objects = client.list("mlservice", all_namespaces=True) + client.list(
            "secret", all_namespaces=True
        )
    return {f"{o['kind']}/{o['metadata']['namespace']}/{o['metadata']['name']}": o for o in objects}


def test_restart_keeps_every_object_and_version(tmp_path: Path) -> None:
    home = tmp_path / "home"
    manifest = tmp_path / "m.yaml"
    manifest.write_text(MANIFEST)
    # The API alone: controllers would move the status between the two snapshots.
    first = UpProcess(home, args=[*API_ONLY_ARGS, "--apply", str(manifest)]).start()
    try:
        endpoints = json.loads((home / "endpoints.json").read_text())
        assert endpoints["api"].startswith("http://127.0.0.1:")
        assert endpoints["api"] != "http://127.0.0.1:0"
        before = _wait_for_apply(first)
        assert set(before) == {"MLService/default/kept", "Secret/other/kept"}
        assert "mlservice/kept created" in first.log()

        # While it runs, a second supervisor on the same home is refused, and so is its port.
        twin = run_up(home, "--api-port", "0")
        assert (twin.returncode, twin.stderr.strip()) == (
            1,
            f"error: Another `mls up` is already running with data dir {home.resolve()}.",
        )
        port = endpoints["api"].rsplit(":", 1)[1]
        clash = run_up(tmp_path / "elsewhere", "--api-port", port)
        assert clash.returncode == 1
        assert clash.stderr.startswith(f"error: The API port {port} on 127.0.0.1 is already in use")
    finally:
        assert first.stop() == 0
    assert not (home / "endpoints.json").exists()

    with UpProcess(home, args=API_ONLY_ARGS) as second:
        after = snapshot(second)
        assert second.endpoints["pid"] != endpoints["pid"]
    assert after == before  # same uid, resourceVersion, generation, timestamps, everything


def _wait_for_apply(up: UpProcess) -> dict[str, dict[str, object]]:
    """`--apply` runs once the API answers, so the objects may trail readiness a little."""

    def applied() -> dict[str, dict[str, object]] | None:
        found = snapshot(up)
        return found if len(found) == 2 else None

    return wait_until(applied, timeout=30, message=lambda: f"--apply to finish:\n{up.log()}")


def test_sigterm_stops_cleanly(tmp_path: Path) -> None:
    up = UpProcess(tmp_path / "home").start()
    os.kill(up.pid, signal.SIGTERM)
    assert up.stop() == 0
    assert not (tmp_path / "home" / "endpoints.json").exists()


def test_bad_flags_name_themselves(tmp_path: Path) -> None:
    assert parse_port_range("20000-29999") == (20000, 29999)
    for bad in ("20000", "30000-20000", "80-90", "a-b"):
        with pytest.raises(InvalidInput, match=f"--port-range '{bad}'"):
            parse_port_range(bad)
    refused = run_up(tmp_path / "home", "--port-range", "9-1")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: --port-range '9-1' is not A-B")
