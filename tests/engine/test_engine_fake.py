"""The fake engine behaves like the seam promises, so controller tests can trust it."""

from __future__ import annotations

import pytest

import mlservice.engine
from mlservice.engine import Engine, ReplicaEvent, Revision
from mlservice.engine.fake import Call, FakeEngine
from mlservice.engine.local import LocalEngine
from tests.engine.engine_helpers import revision

pytestmark = pytest.mark.anyio


def rev(name: str = "svc-predict-v1-00001", *, args: tuple[str, ...] = ()) -> Revision:
    return revision(name, command=("serve",), args=args)


async def test_fake_converges_and_reports_events() -> None:
    engine = FakeEngine()
    seen: list[ReplicaEvent] = []
    engine.subscribe(seen.append)

    await engine.ensure(rev(), 3)
    await engine.ensure(rev(), 3)
    states = await engine.replicas(rev().id)
    assert [s.phase for s in states] == ["Pending"] * 3
    assert len({s.port for s in states}) == 3

    engine.mark_ready(states[0].id)
    crashed = engine.crash(states[1].id, "boom")
    assert (crashed.phase, crashed.restarts, crashed.message) == ("CrashLoopBackOff", 1, "boom")
    await engine.ensure(rev(), 1)

    assert [e.type for e in seen] == ["ADDED"] * 3 + ["MODIFIED"] * 2 + ["DELETED"] * 2
    assert engine.calls == [
        Call("prepare", rev().id),  # ensure prepares a revision first, once
        Call("ensure", rev().id, 3),
        Call("ensure", rev().id, 3),
        Call("ensure", rev().id, 1),
    ]
    assert [s.ready for s in await engine.replicas()] == [True]


async def test_fake_replaces_replicas_on_a_changed_spec_and_stops() -> None:
    engine = FakeEngine(auto_ready=True)
    await engine.ensure(rev(), 1)
    [old] = await engine.replicas()
    assert old.ready
    await engine.ensure(rev(args=("--new",)), 1)
    [new] = await engine.replicas()
    assert new.id != old.id
    await engine.stop(rev().id)
    assert await engine.revisions() == []
    await engine.close()
    assert engine.closed


async def test_fake_prepare_runs_its_hook_once_and_stop_forgets_it() -> None:
    seen: list[Revision] = []

    async def hook(revision: Revision) -> str:
        seen.append(revision)
        return f"resolved {revision.name}"

    engine = FakeEngine(prepare=hook)
    await engine.ensure(rev(), 1)
    await engine.ensure(rev(), 2)
    assert seen == [rev()]
    assert engine.prepared == {rev().id: "resolved svc-predict-v1-00001"}
    [replica, _] = await engine.replicas()
    assert set(replica.logs) == {"user-container"}
    await engine.stop(rev().id)
    assert engine.prepared == {}


def test_both_engines_declare_the_seam_so_mypy_checks_them() -> None:
    assert Engine in FakeEngine.__mro__
    assert Engine in LocalEngine.__mro__


def test_exported_names_exist_once() -> None:
    names = mlservice.engine.__all__
    assert len(set(names)) == len(names)
    assert [name for name in names if not hasattr(mlservice.engine, name)] == []
