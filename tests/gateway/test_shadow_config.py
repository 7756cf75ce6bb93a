"""Shadow traffic's pure parts: the `spec.shadow` field's checks, where the routing snapshot
puts the copy, and the agreement rule."""

from __future__ import annotations

from collections.abc import Coroutine
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlservice.controller import build_snapshot
from mlservice.controller.routing import ServiceRoutes
from mlservice.errors import InvalidObject
from mlservice.gateway.agreement import judge, same
from mlservice.gateway.shadow import (
    PARALLEL,
    QUEUE_BYTES,
    QUEUE_LIMIT,
    Copy,
    Shadows,
    ShadowStats,
)
from mlservice.gateway.signals import LoadReport, ShadowLoad, signal_from_json, signal_to_json
from mlservice.gateway.snapshot import Revision, Shadow
from mlservice.gateway.wire import dump_snapshot, parse_snapshot
from mlservice.naming import Hosts
from mlservice.resources import MLService, parse_as

HOSTS = Hosts("example.test", 8080)


def _service(**spec: Any) -> MLService:
    releases = [
        {"name": name, "predictor": {"model": {"modelFormat": {"name": "sklearn"}}}}
        for name in ("v1", "v2", "v3")
    ]
    manifest = {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLService",
        "metadata": {"name": "svc", "namespace": "ns"},
        "spec": {"default": "v1", "releases": releases, **spec},
    }
    return parse_as(MLService, manifest)


def test_a_shadow_names_a_release_other_than_the_default() -> None:
    assert _service(shadow={"release": "v3", "percent": 20}).problems() == []
    assert _service(shadow={"release": "v3"}).spec.shadow.percent == 100  # type: ignore[union-attr]
    with pytest.raises(InvalidObject, match=r'spec\.shadow\.release: "v9" is not a release \('):
        _service(shadow={"release": "v9"})
    with pytest.raises(InvalidObject, match=r'spec\.shadow\.release: "v1" is the default release'):
        _service(shadow={"release": "v1"})


@pytest.mark.parametrize("percent", [-1, 101])
def test_a_shadow_percent_is_0_to_100(percent: int) -> None:
    with pytest.raises(InvalidObject, match=r"spec\.shadow\.percent"):
        _service(shadow={"release": "v3", "percent": percent})


def _revision(release: str) -> Revision:
    return Revision(
        id=f"ns/svc-predict-{release}-00001",
        namespace="ns",
        service="svc",
        component="predict",
        release=release,
    )


def _routes(**kw: Any) -> ServiceRoutes:
    releases = {r: _revision(r) for r in kw.pop("present", ("v1", "v2", "v3"))}
    return ServiceRoutes(
        kind="MLService", namespace="ns", name="svc", releases=releases, default="v1", **kw
    )


def test_the_shadow_rides_on_the_service_and_predictor_hosts_only() -> None:
    snap = build_snapshot([_routes(shadow="v3", shadow_percent=30)], hosts=HOSTS, version=1)
    expected = Shadow(revision="ns/svc-predict-v3-00001", release="v3", percent=30)
    shadows = {host: route.shadow for host, route in snap.routes.items()}
    assert shadows == {
        "svc.ns.example.test": expected,
        "svc-predictor.ns.example.test": expected,
        "svc-predict-v1.ns.example.test": None,
        "svc-predict-v2.ns.example.test": None,
        "svc-predict-v3.ns.example.test": None,
    }
    assert parse_snapshot(dump_snapshot(snap)) == snap


def test_with_a_transformer_only_the_predictor_host_is_copied() -> None:
    chain = Revision(
        id="ns/svc-transform-00001",
        namespace="ns",
        service="svc",
        component="transform",
        release="",
    )
    snap = build_snapshot(
        [_routes(shadow="v3", shadow_percent=50, transformer=chain)], hosts=HOSTS, version=1
    )
    assert snap.routes["svc.ns.example.test"].shadow is None
    assert snap.routes["svc-predictor.ns.example.test"].shadow is not None


@pytest.mark.parametrize(
    "kw",
    [
        {"shadow": "v3", "shadow_percent": 0},  # nothing to copy
        {"shadow": "v3", "shadow_percent": 50, "present": ("v1", "v2")},  # no revision yet
        {"shadow": "v2", "shadow_percent": 50, "canary": "v2", "canary_percent": 10},  # answers
        {},
    ],
)
def test_no_shadow_without_a_revision_a_share_or_when_it_answers(kw: dict[str, Any]) -> None:
    snap = build_snapshot([_routes(**kw)], hosts=HOSTS, version=1)
    assert all(route.shadow is None for route in snap.routes.values())


def _v1(*predictions: object) -> bytes:
    return orjson.dumps({"predictions": list(predictions)})


def test_v1_and_v2_predictions_are_compared_not_whole_bodies() -> None:
    assert judge((200, _v1(1, 2.0)), (200, b'{"predictions": [1.0, 2], "model": "x"}')) == "agree"
    assert judge((200, _v1(1, 2)), (200, _v1(1, 3))) == "disagree"
    v2 = b'{"model_name": "a", "outputs": [{"name": "o", "data": [0.5, 1]}]}'
    v2b = b'{"model_name": "b", "id": "7", "outputs": [{"name": "o", "data": [0.5000001, 1]}]}'
    assert judge((200, v2), (200, v2b)) == "agree"
    assert judge((200, v2), (200, v2.replace(b"0.5", b"0.6"))) == "disagree"
    assert judge((200, _v1("cat")), (200, _v1("dog"))) == "disagree"


def test_a_failed_shadow_disagrees_and_a_failed_answer_is_incomparable() -> None:
    assert judge((200, _v1(1)), (500, b'{"error": "x"}')) == "disagree"
    assert judge((200, _v1(1)), (502, None)) == "disagree"
    assert judge((200, _v1(1)), (200, b"not json")) == "disagree"
    assert judge((500, _v1(1)), (200, _v1(1))) == "incomparable"
    assert judge((200, None), (200, _v1(1))) == "incomparable"  # over 1 MiB: not kept
    assert judge((200, b"[1, 2]"), (200, b"[1, 2]")) == "incomparable"  # no predictions


numbers = st.floats(allow_nan=False, allow_infinity=False, width=32)


@given(st.recursive(numbers | st.text(max_size=3) | st.booleans(), st.lists, max_leaves=20))
def test_anything_agrees_with_itself(value: object) -> None:
    assert same(value, value)


@given(numbers)
def test_a_number_agrees_within_the_tolerance_only(x: float) -> None:
    assert same(x + abs(x) * 1e-7, x)
    assert not same(x + abs(x) * 1e-3 + 1e-3, x)
    assert not same(True, 1)  # booleans are not numbers


def test_the_per_second_report_carries_each_windows_shadow_counts() -> None:
    stats = ShadowStats(namespace="ns", service="svc", release="v2")
    assert stats.take("r") is None  # nothing yet: no entry in the report
    stats.copies["sent"] += 3
    stats.copies["dropped_queue_full"] += 1
    stats.verdicts["agree"] += 2
    stats.verdicts["disagree"] += 1
    stats.errors += 1
    stats.answers.observe(500, 0.25)
    first = stats.take("r")
    assert first == ShadowLoad("r", 3, 1, 1, 2, 1, 0, 0.25)
    stats.verdicts["incomparable"] += 1
    assert stats.take("r") == ShadowLoad("r", 0, 0, 0, 0, 0, 1, 0.0)
    assert stats.take("r") is None
    report = LoadReport(time=1.0, window=1.0, revisions=(), shadows=(first,))
    assert signal_from_json(orjson.loads(orjson.dumps(signal_to_json(report)))) == report


class _Idle:
    """Enough of a `Core` for `Shadows.submit`: its senders are never run."""

    def __init__(self) -> None:
        self.table = SimpleNamespace(revisions={})
        self.spawned = 0

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        coro.close()
        self.spawned += 1


def _copy(size: int = 10) -> Copy:
    return Copy(
        revision="ns/r",
        method="POST",
        url="/",
        headers=(),
        body=b"x" * size,
        answered_code=200,
        answered_body=None,
        event_id=None,
    )


def test_the_queue_is_bounded_in_copies_and_bytes_and_drops_are_counted() -> None:
    core = _Idle()
    shadows = Shadows(core)  # type: ignore[arg-type]
    for _ in range(QUEUE_LIMIT + 5):
        shadows.submit(_copy())
    assert shadows.stats["ns/r"].copies["dropped_queue_full"] == 5
    assert core.spawned == PARALLEL  # a bounded number of senders, however many copies
    big = Shadows(_Idle())  # type: ignore[arg-type]
    for _ in range(QUEUE_BYTES // (1024 * 1024) + 3):
        big.submit(_copy(1024 * 1024))
    assert big.stats["ns/r"].copies["dropped_queue_full"] == 3
