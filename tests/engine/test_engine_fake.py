"""The fake engine behaves like the seam promises, so controller tests can trust it."""

from __future__ import annotations

import pytest

import mlservice.engine
from mlservice.engine import ContainerSpec, Engine, ReplicaEvent, RevisionSpec
from mlservice.engine.fake import Call, FakeEngine
from mlservice.engine.local import LocalEngine

pytestmark = pytest.mark.anyio


def rev(name: str = "svc-predict-v1-00001", *, args: tuple[str, ...] = ()) -> RevisionSpec:
    spec = ContainerSpec(name="user-container", command=("serve",), args=args)
    return RevisionSpec(
        namespace="default",
        name=name,
        service="svc",
        component="predict",
        release="v1",
        containers=(spec,),
    )


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


def test_both_engines_declare_the_seam_so_mypy_checks_them() -> None:
    assert Engine in FakeEngine.__mro__
    assert Engine in LocalEngine.__mro__


def test_exported_names_exist_once() -> None:
    names = mlservice.engine.__all__
    assert len(set(names)) == len(names)
    assert [name for name in names if not hasattr(mlservice.engine, name)] == []
