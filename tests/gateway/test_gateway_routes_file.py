"""The saved routing snapshot: a restarted gateway serves from it before any push, the file is
private, and version numbers from another run can't confuse a delta."""

from __future__ import annotations

import json
import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlservice.gateway.link import GatewayLink
from mlservice.gateway.routesfile import run_of
from mlservice.gateway.snapshot import Backend, Endpoint, Revision, Route, RoutingSnapshot
from mlservice.home import Home
from tests.gateway.gateway_procs import Gateway, Proc, revision, route, snapshot, start_gateway
from tests.support.polling import wait_until_async

pytestmark = pytest.mark.e2e
RID = "ns/saved-predict-v1-00001"
HOST = "saved.ns.localhost"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def first(home: Path) -> Iterator[Gateway]:
    running = start_gateway(home)
    yield running
    running.proc.stop()


def _routes(up: Proc, version: int) -> dict[str, object]:
    return snapshot(version, [revision(RID, up)], [route(HOST, (RID, "v1", 100))])


def _status(gateway: Gateway) -> int:
    return httpx.get(f"{gateway.url}/", headers={"host": HOST}, timeout=10).status_code


def test_a_killed_gateway_restarts_serving_its_saved_routes(
    home: Path, first: Gateway, up_a: Proc
) -> None:
    """F9: a restarted gateway answered 404 for live services until its routes arrived; now it
    serves the snapshot it saved before acknowledging the last push."""
    first.put(_routes(up_a, 12))
    assert _status(first) == 200
    first.proc.proc.kill()  # SIGKILL: nothing is flushed on the way out
    first.proc.proc.wait(10)
    second = start_gateway(home)
    try:
        assert _status(second) == 200  # before any push
        assert "serving saved routes (version 12)" in second.proc.log_text()
        with second.admin() as admin:
            assert admin.get("/admin/routes").json()["version"] == 12
    finally:
        second.proc.stop()


def test_the_saved_routes_are_private(home: Path, first: Gateway, up_a: Proc) -> None:
    """Item 2: the file names every service and replica; only the data dir's owner reads it."""
    first.put(_routes(up_a, 1))
    saved = home / "gateway" / "routes.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    assert [p.name for p in saved.parent.iterdir()] == ["routes.json"]  # no temporary left


def test_after_a_restart_only_a_full_snapshot_applies_whatever_its_version(
    home: Path, first: Gateway, up_a: Proc
) -> None:
    """A restarted control plane counts from 1 again: its full snapshot replaces the saved one
    even with a lower version, and no delta applies to the saved one until then."""
    first.put(_routes(up_a, 57))
    first.proc.stop()
    second = start_gateway(home)
    try:
        with second.admin() as admin:
            stale = admin.patch("/admin/routes", json={"base": 57, "version": 58})
            assert stale.status_code == 409
            assert "send the full snapshot" in stale.json()["error"]
            gone = snapshot(1, [], [])
            assert admin.put("/admin/routes", json=gone).json() == {"version": 1}
            assert _status(second) == 404
            delta = {"base": 1, "version": 2, "revisions": [revision(RID, up_a)]}
            delta["routes"] = [route(HOST, (RID, "v1", 100))]
            assert admin.patch("/admin/routes", json=delta).status_code == 200
        assert _status(second) == 200
    finally:
        second.proc.stop()
    third = start_gateway(home)  # the delta was saved too
    try:
        assert _status(third) == 200
    finally:
        third.proc.stop()


def test_an_unreadable_saved_snapshot_is_ignored(home: Path) -> None:
    (home / "gateway").mkdir(mode=0o700)
    (home / "gateway" / "routes.json").write_text('{"version": "x"}')
    gateway = start_gateway(home)
    try:
        assert _status(gateway) == 404
        assert "saved routes" in gateway.proc.log_text()
        assert "ignored" in gateway.proc.log_text()
    finally:
        gateway.proc.stop()


def test_routes_saved_by_another_run_are_not_served(home: Path, up_a: Proc) -> None:
    """A new run of `mls up` starts new replicas, one maybe on a port the file gives another
    service: routes saved by another run are ignored rather than risk a wrong answer."""
    saved = {"owner": "1@42", "snapshot": _routes(up_a, 3)}
    (home / "gateway").mkdir(mode=0o700)
    (home / "gateway" / "routes.json").write_text(json.dumps(saved))
    gateway = start_gateway(home)
    try:
        assert _status(gateway) == 404
        assert "saved by another run (1@42)" in gateway.proc.log_text()
    finally:
        gateway.proc.stop()


def test_a_run_is_its_pid_and_start_time() -> None:
    mine = run_of(os.getpid())
    assert mine == run_of(os.getpid())
    assert mine is not None
    assert mine.startswith(f"{os.getpid()}@")
    assert run_of(None) is None


@pytest.mark.anyio
async def test_the_child_of_mls_up_restarts_serving_before_any_push(
    tmp_path: Path, up_a: Proc
) -> None:
    """F9 as `mls up` runs it: the gateway child SIGKILLed and restarted by its parent serves
    the saved routes even if nobody pushes them again."""
    home = Home(tmp_path / "home")
    home.root.mkdir()
    home.token.write_text("t\n")
    link = GatewayLink(home=home, port=0, token="t")

    async def no_resync() -> None:
        """Stands in for a control plane that has not noticed the restart yet."""

    link.process.on_restart = no_resync
    await link.start()
    try:
        endpoint = Endpoint("r0", up_a.urls[0].removeprefix("http://"))
        revision = Revision(RID, "ns", "saved", "predict", "v1", (endpoint,))
        route = Route(HOST, "service", "ns", "saved", (Backend(RID, "v1", 100),))
        await link.sink.push(RoutingSnapshot(4, {RID: revision}, {HOST: route}))
        pid = link.process.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await wait_until_async(lambda: link.process.restarts >= 1, timeout=20, message="a restart")
        async with httpx.AsyncClient(base_url=link.url, timeout=10) as http:
            assert (await http.get("/", headers={"host": HOST})).status_code == 200
    finally:
        await link.close()
