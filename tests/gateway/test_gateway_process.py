"""The gateway as `mls up` runs it: a child on ports bound by the parent, restarted (and
re-fed its snapshot) when it dies, gone when the parent dies, signals forwarded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from mlservice.gateway.link import GatewayLink
from mlservice.gateway.signals import LoadReport, Signal
from mlservice.gateway.snapshot import Backend, Endpoint, Revision, Route, RoutingSnapshot
from mlservice.home import Home
from tests.gateway.gateway_procs import Proc
from tests.support.polling import wait_until, wait_until_async

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
HOST = "proc.ns.localhost"


def _snapshot(up: Proc) -> RoutingSnapshot:
    rid = "ns/proc-predict-v1-00001"
    endpoint = Endpoint("r0", up.urls[0].removeprefix("http://"))
    revision = Revision(rid, "ns", "proc", "predict", "v1", (endpoint,))
    route = Route(HOST, "service", "ns", "proc", (Backend(rid, "v1", 100),))
    return RoutingSnapshot(1, {rid: revision}, {HOST: route})


def _home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home")
    home.root.mkdir(parents=True)
    home.token.write_text("process-token\n")
    return home


async def _status(url: str) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        return (await http.get("/", headers={"host": HOST})).status_code


async def test_a_killed_gateway_comes_back_on_the_same_port_with_its_routes(
    tmp_path: Path, up_a: Proc
) -> None:
    link = GatewayLink(home=_home(tmp_path), port=0, token="process-token")
    seen: list[Signal] = []
    link.subscribe(seen.append)
    await link.start()
    try:
        await link.sink.push(_snapshot(up_a))
        assert await _status(link.url) == 200
        pid = link.process.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await wait_until_async(lambda: link.process.restarts >= 1, timeout=20, message="a restart")
        assert link.process.pid != pid
        assert await _status(link.url) == 200  # the snapshot was pushed again, whole
        await wait_until_async(
            lambda: any(isinstance(s, LoadReport) and s.revisions for s in seen),
            timeout=20,
            message="a load report at the subscriber",
        )
    finally:
        await link.close()
    assert (tmp_path / "home" / "logs" / "gateway.log").exists()


PARENT = textwrap.dedent(
    """
    import asyncio, sys
    from mlservice.gateway.link import GatewayLink
    from mlservice.home import Home

    async def main():
        link = GatewayLink(home=Home(__import__("pathlib").Path(sys.argv[1])), port=0, token="t")
        await link.start()
        print(link.process.pid, flush=True)
        await asyncio.sleep(600)

    asyncio.run(main())
    """
)


def _exited(pid: int) -> bool:
    """Gone, or a zombie waiting for init to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z")
    except OSError:
        return True


def test_the_gateway_dies_with_its_parent(tmp_path: Path) -> None:
    home = _home(tmp_path)
    argv = [sys.executable, "-c", PARENT, str(home.root)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as parent:
        try:
            assert parent.stdout is not None
            child = int(parent.stdout.readline())
            assert not _exited(child)
            parent.kill()  # SIGKILL: no chance to stop the child itself
            parent.wait(10)
            wait_until(lambda: _exited(child), timeout=10, message=f"child {child} to exit")
        finally:
            if parent.poll() is None:
                parent.kill()
