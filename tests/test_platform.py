"""`mlservice.platform`, what `mls up` runs: the whole platform on free ports (this process the
supervisor, the control plane its child), and the control plane in process over a fake data
plane, which shows it needs nothing but the `DataPlane` seam."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import json
import os
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from mlservice.client import AsyncClient
from mlservice.controller import MemorySink
from mlservice.engine.fake import FakeEngine
from mlservice.errors import InvalidInput
from mlservice.gateway.link import SignalListener
from mlservice.home import Home
from mlservice.platform import (
    ControlPlane,
    ControlPlaneConfig,
    DataPlaneAddresses,
    DataPlaneConfig,
    Platform,
    PlatformConfig,
    exclusive_home,
)

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

SEAM = {
    "apiVersion": "tensorstack.dev/v1beta1",
    "kind": "SimpleMLService",
    "metadata": {"name": "seam", "namespace": "default"},
    "spec": {
        "custom": {
            "spec": {"containers": [{"name": "user-container", "command": ["sleep", "600"]}]}
        }
    },
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _locked(home: Home) -> bool:
    """Whether another open file of this process (so another `mls up`) is refused the lock."""
    with open(home.root / "up.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
        return False


@contextlib.contextmanager
def _held_elsewhere(home: Home) -> Iterator[None]:
    """The lock as another `mls up` holds it."""
    with open(home.root / "up.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield


async def test_the_platform_starts_serves_and_stops_in_process(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    config = PlatformConfig(
        home=home,
        data_plane=DataPlaneConfig(gateway_port=0, gateway_grpc_port=0, warm_standby=False),
        control_plane=ControlPlaneConfig(api_port=0, api_tls_port=0),
    )
    out = io.StringIO()
    async with Platform(config, out=out) as platform:
        assert json.loads(home.endpoints.read_text()) == platform.endpoints
        assert platform.endpoints["pid"] == os.getpid()
        assert _locked(home)
        async with httpx.AsyncClient(timeout=10) as http:
            for url in (platform.endpoints["api"], platform.endpoints["gateway_admin"]):
                assert (await http.get(f"{url}/healthz")).status_code == 200
        # The control-plane child serves the TLS socket handed down, with the data dir's CA.
        ca = ssl.create_default_context(cafile=str(home.pki / "ca.crt"))
        async with httpx.AsyncClient(timeout=10, verify=ca) as https:
            tls = platform.endpoints["api_tls"]
            assert (await https.get(f"{tls}/healthz")).status_code == 200
            assert (await https.get(f"{tls}/api")).status_code == 401  # the same token rule
        assert f"server: {tls}" in home.kubeconfig.read_text()
        assert platform.gateway is not None
        assert platform.control is not None
        gateway, control = platform.gateway.pid, platform.control.proc
        assert control is not None
        assert control.returncode is None
        platform.stop()
        await asyncio.wait_for(platform.serve(), 10)  # returns once asked to stop
    assert not home.endpoints.exists()
    assert not _locked(home)
    assert gateway is not None
    with pytest.raises(ProcessLookupError):
        os.kill(gateway, 0)
    assert control.returncode == 0  # stopped cleanly, not killed
    lines = out.getvalue().splitlines()
    assert lines[0] == f"mlservice gateway listening on {platform.endpoints['gateway']}"
    assert lines[1] == f"mlservice gateway gRPC (h2c) on {platform.endpoints['gateway_grpc']}"
    assert lines[2].startswith(f"mlservice API listening on {platform.endpoints['api']} ")
    assert lines[3] == f"mlservice TLS API listening on {tls} (kubeconfig {home.kubeconfig})"


async def test_the_data_dir_lock_is_taken_once_per_process(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    config = PlatformConfig(home=home, control_plane=ControlPlaneConfig(api_port=0), api_only=True)
    with exclusive_home(home):  # as the demo holds it while it trains
        async with Platform(config, out=io.StringIO()) as platform:
            assert platform.endpoints["gateway"] is None
        assert _locked(home)  # still the demo's
    assert not _locked(home)
    with _held_elsewhere(home), pytest.raises(InvalidInput, match="Another `mls up` is already"):
        await Platform(config, out=io.StringIO()).__aenter__()


class FakeDataPlane:
    """A data plane that runs nothing: the engine and the route sink record what they get."""

    def __init__(self) -> None:
        self.engine = FakeEngine(auto_ready=True)
        self.routes = MemorySink()
        self.addresses = DataPlaneAddresses("http://127.0.0.1:1", "http://127.0.0.1:2", 1)
        self.listeners: list[SignalListener] = []

    def subscribe(self, listener: SignalListener) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)


async def test_the_control_plane_uses_nothing_of_the_data_plane_but_the_seam(
    tmp_path: Path,
) -> None:
    home = Home(tmp_path / "home")
    home.root.mkdir(parents=True)
    data = FakeDataPlane()
    control = ControlPlane(ControlPlaneConfig(api_port=0), home=home, token="seam-token")
    control.supervise(data)
    # The autoscaler reads the gateway's signals (and so do the canary analysis and
    # status.shadow).
    assert control.autoscaler is not None
    assert control.autoscaler.observe in data.listeners
    owners = sorted(type(listener.__self__).__name__ for listener in data.listeners)  # type: ignore[attr-defined]
    assert owners == ["Autoscaler", "RevisionMetrics", "ShadowMetrics"]
    await control.start_api()
    await control.start()
    try:
        async with AsyncClient(control.api.url, token="seam-token", home=home) as client:
            await client.apply(SEAM)
        host = "seam.default.svc.localhost"
        for _ in range(200):
            if data.routes.last is not None and host in data.routes.last.routes:
                break
            await asyncio.sleep(0.05)
        assert data.routes.last is not None
        assert host in data.routes.last.routes
        assert [c.method for c in data.engine.calls][:2] == ["prepare", "ensure"]
    finally:
        control.stop()
        await control.close_supervision()
        await control.close()
