"""The admin channel of a real gateway: auth, full and delta pushes through `GatewayClient`,
signals, metrics."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest

from mlservice.gateway.client import GatewayClient
from mlservice.gateway.signals import Activation, LoadReport, RevisionLoad
from mlservice.gateway.snapshot import Backend, Endpoint, Revision, Route, RoutingSnapshot
from tests.gateway.gateway_procs import TOKEN, Gateway, Proc, revision, route, snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
REV = "ns/adm-predict-v1-00001"
HOST = "adm.ns.localhost"


def _snap(version: int, up: Proc | None, *, percent_host: str = HOST) -> RoutingSnapshot:
    endpoints = (Endpoint("r0", up.urls[0].removeprefix("http://")),) if up else ()
    rev = Revision(REV, "ns", "adm", "predict", "v1", endpoints)
    rt = Route(percent_host, "service", "ns", "adm", (Backend(REV, "v1", 100),))
    return RoutingSnapshot(version, {REV: rev}, {rt.host: rt})


def test_admin_routes_need_the_token(gateway: Gateway) -> None:
    for headers in ({}, {"authorization": "Bearer wrong"}):
        answer = httpx.put(f"{gateway.admin_url}/admin/routes", json={}, headers=headers)
        assert answer.status_code == 401
        assert "bearer token" in answer.json()["error"]
    assert httpx.get(f"{gateway.admin_url}/healthz").status_code == 200


def test_a_bad_push_is_refused_and_the_last_good_snapshot_stays(
    gateway: Gateway, up_a: Proc
) -> None:
    good = snapshot(5, [revision(REV, up_a)], [route(HOST, (REV, "v1", 100))])
    gateway.put(good)
    bad = snapshot(6, [revision(REV, up_a)], [route(HOST, (REV, "v1", 50))])
    with gateway.admin() as admin:
        answer = admin.put("/admin/routes", json=bad)
        assert answer.status_code == 400
        assert "summing to 50" in answer.json()["error"]
        assert admin.get("/admin/routes").json()["version"] == 5
    assert httpx.get(f"{gateway.url}/", headers={"host": HOST}).status_code == 200


def test_a_stale_delta_is_409_with_the_current_version(gateway: Gateway, up_a: Proc) -> None:
    gateway.put(snapshot(7, [revision(REV, up_a)], [route(HOST, (REV, "v1", 100))]))
    delta = {"base": 3, "version": 8, "removed_routes": [HOST]}
    with gateway.admin() as admin:
        answer = admin.patch("/admin/routes", json=delta)
    assert answer.status_code == 409
    assert answer.json()["version"] == 7
    assert httpx.get(f"{gateway.url}/", headers={"host": HOST}).status_code == 200


async def test_client_pushes_deltas_and_resends_whole_after_a_conflict(
    gateway: Gateway, up_a: Proc
) -> None:
    client = GatewayClient(gateway.admin_url, token=TOKEN)
    try:
        await client.push(_snap(10, None))
        await client.push(_snap(11, up_a))
        assert (client.pushes, client.full_pushes) == (2, 1)
        served = await client.snapshot()
        assert served["version"] == 11
        assert served["revisions"][0]["endpoints"][0]["replica"] == "r0"
        gateway.put(snapshot(99, [], []))  # someone else replaced it: our next delta is stale
        await client.push(replace(_snap(12, up_a), version=12))
        assert client.full_pushes == 2
        assert (await client.snapshot())["version"] == 12
        async with httpx.AsyncClient(base_url=gateway.url) as http:
            assert (await http.get("/", headers={"host": HOST})).status_code == 200
    finally:
        await client.aclose()


async def test_client_reads_activations_and_load_reports(gateway: Gateway) -> None:
    client = GatewayClient(gateway.admin_url, token=TOKEN)
    try:
        await client.push(_snap(20, None))
        signals = client.signals()
        first = asyncio.ensure_future(anext(signals))
        await asyncio.sleep(0.2)  # the stream is open
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as http:
            cold = asyncio.ensure_future(http.get("/", headers={"host": HOST}))
            seen = [await asyncio.wait_for(first, 5)]

            def queued() -> list[RevisionLoad]:
                """Load reports made while the request waited (one may come before it)."""
                reports = [s for s in seen if isinstance(s, LoadReport)]
                return [r for s in reports for r in s.revisions if r.revision == REV and r.queued]

            while not (queued() and any(isinstance(s, Activation) for s in seen)):
                seen.append(await asyncio.wait_for(anext(signals), 5))
            activation = next(s for s in seen if isinstance(s, Activation))
            assert activation.revision == REV
            load = queued()[0]
            assert load.queued == 1
            assert load.concurrency > 0
            cold.cancel()
        await signals.aclose()
    finally:
        await client.aclose()


def test_metrics_count_requests_per_revision(gateway: Gateway, up_a: Proc) -> None:
    gateway.put(snapshot(30, [revision(REV, up_a, service="adm")], [route(HOST, (REV, "v1", 100))]))
    for _ in range(3):
        httpx.get(f"{gateway.url}/m", headers={"host": HOST})
    httpx.get(f"{gateway.url}/m", headers={"host": "unknown.ns.localhost"})
    text = gateway.metrics()
    line = next(
        ln for ln in text.splitlines() if ln.startswith("mls_gateway_requests_total{") and REV in ln
    )
    assert 'code="200"' in line
    assert float(line.rsplit(" ", 1)[1]) >= 3
    assert 'mls_gateway_unrouted_requests_total{code="404"}' in text
    assert "mls_gateway_request_duration_seconds_bucket" in text
    assert "mls_gateway_queue_depth" in text
    assert "process_cpu_seconds_total" in text
