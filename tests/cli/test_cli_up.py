"""`mls up`: free ports, endpoints.json, --apply, one supervisor per home, restarts keep state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlservice.cli.background import UpProcess
from mlservice.cli.up import parse_port_range
from mlservice.errors import InvalidInput
from tests.support.cli import mls
from tests.support.polling import wait_until
from tests.support.up import API_ONLY_ARGS, FREE_PORTS

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


def test_ctrl_c_stops_the_gateway_without_restarting_it(tmp_path: Path) -> None:
    """A terminal's Ctrl-C signals the whole foreground process group, not `mls up` alone: the
    gateway child must stop when `mls up` stops it, not exit first and be restarted."""
    home, log = tmp_path / "home", tmp_path / "up.log"
    command = [sys.executable, "-m", "mlservice", "up", "--home", str(home)]
    command += [*FREE_PORTS, "--no-warm-standby"]
    with open(log, "wb") as out:
        up = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _serving(home, up.pid):
            assert up.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        gateway = _child(up.pid, b"mlservice.gateway")
        assert os.getpgid(gateway) != up.pid  # out of the group a terminal's Ctrl-C reaches
        os.killpg(up.pid, signal.SIGINT)
        assert up.wait(30) == 0, log.read_text()
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait(10)
    assert "gateway exited" not in log.read_text()


def _child(parent: int, marker: bytes) -> int:
    """The pid of `parent`'s child whose command line holds `marker`."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(") ", 1)[1].split()[1])
            if ppid == parent and marker in (stat.parent / "cmdline").read_bytes():
                return int(stat.parent.name)
        except (OSError, IndexError, ValueError):
            continue
    raise AssertionError(f"no child of {parent} runs {marker!r}")


def _serving(home: Path, pid: int) -> bool:
    try:
        return bool(json.loads((home / "endpoints.json").read_text()).get("pid") == pid)
    except (OSError, ValueError):
        return False
