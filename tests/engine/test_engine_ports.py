"""Ports: the pool (bind-test, quarantine), fixed ports that are taken, "address in use"."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator

import pytest

from mlservice.engine.local import LocalEngine
from mlservice.engine.local.ports import PortPool, is_free
from mlservice.errors import InvalidInput, Unavailable
from tests.engine.engine_helpers import ECHO_SERVER, Events, python, revision
from tests.support.ports import free_port


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A socket holding a free loopback port, as another program would."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def test_pool_skips_ports_someone_holds(listener: socket.socket) -> None:
    taken = port_of(listener)
    assert not is_free(taken)
    with pytest.raises(Unavailable, match=f"port range {taken}-{taken} has no free port left"):
        PortPool((taken, taken)).acquire()


def test_pool_quarantines_released_ports() -> None:
    now = [100.0]
    port = free_port()
    pool = PortPool((port, port), quarantine=30.0, clock=lambda: now[0])
    assert pool.acquire() == port
    pool.release(port)
    now[0] += 29.0
    with pytest.raises(Unavailable):
        pool.acquire()
    now[0] += 1.0
    assert pool.acquire() == port
    assert pool.in_use == {port}


def test_pool_hands_out_distinct_ports() -> None:
    pool = PortPool((20000, 29999))
    ports = [pool.acquire() for _ in range(20)]
    assert len(set(ports)) == 20
    assert all(20000 <= p <= 29999 for p in ports)


def test_pool_refuses_a_bad_range() -> None:
    with pytest.raises(InvalidInput, match="port range 3000-2000 must lie within"):
        PortPool((3000, 2000))


@pytest.mark.anyio
async def test_fixed_port_in_use_is_a_port_conflict_until_freed(
    engine: LocalEngine, events: Events
) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    fixed = port_of(holder)
    # A declared containerPort and no $(PORT): the server reads PORT, which is the fixed port.
    rev = revision(command=(sys.executable, ECHO_SERVER), ports=[{"containerPort": fixed}])
    await engine.ensure(rev, 1)
    [state] = await events.until(lambda s: len(s) == 1 and s[0].phase == "PortConflict")
    assert state.reason == "PortConflict"
    assert (
        state.message == f"port {fixed} of container user-container is in use by another process."
    )
    assert state.port == fixed

    holder.close()
    [state] = await events.until_ready(1)
    assert state.port == fixed
    assert state.restarts == 0


@pytest.mark.anyio
async def test_address_in_use_moves_to_another_port_without_counting_a_crash(
    engine: LocalEngine, events: Events, listener: socket.socket
) -> None:
    # First start: fail exactly as a server losing a bind race does. Later starts: serve.
    program = (
        "import os, runpy, socket, sys\n"
        "if not os.path.exists('started-once'):\n"
        "    open('started-once', 'w').close()\n"
        f"    socket.socket().bind(('127.0.0.1', {port_of(listener)}))\n"
        f"runpy.run_path({ECHO_SERVER!r}, run_name='__main__')\n"
    )
    await engine.ensure(revision(command=python(program)), 1)
    first_port = events.seen[0].replica.port
    [state] = await events.until_ready(1)

    assert state.port != first_port
    assert state.restarts == 0
    moved = [e.replica for e in events.seen if e.replica.reason == "AddressInUse"]
    assert moved
    assert "Address already in use" in moved[0].message
