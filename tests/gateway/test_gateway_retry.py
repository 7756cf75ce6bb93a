"""The design's one replay: a replica that closes the connection before any byte of an answer
gets the request once more (another replica if there is one), when its body was kept."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest

from tests.gateway.fake_replicas import RawReplica
from tests.gateway.gateway_procs import Gateway, Proc, revision, route, snapshot

pytestmark = pytest.mark.e2e
RID = "ns/retry-predict-v1-00001"
HOST = "retry.ns.localhost"
versions = itertools.count(100)


@pytest.fixture
def silent() -> Iterator[RawReplica]:
    """Reads the head, then closes without a byte of answer (a replica dying, a stale port)."""
    replica = RawReplica()
    yield replica
    replica.close()


def _serve(gateway: Gateway, *upstreams: Proc | str) -> None:
    gateway.put(
        snapshot(next(versions), [revision(RID, *upstreams)], [route(HOST, (RID, "v1", 100))])
    )


def _post(client: httpx.Client, body: bytes) -> httpx.Response:
    return client.post("/v1/models/m:predict", content=body, headers={"host": HOST})


def test_a_silent_close_is_retried_on_another_replica(
    gateway: Gateway, client: httpx.Client, silent: RawReplica, up_a: Proc
) -> None:
    """Item 2: the client gets the good replica's answer, never the 502 of the silent one."""
    _serve(gateway, silent.address, up_a)
    for i in range(10):
        answer = _post(client, b'{"i": %d}' % i)
        assert answer.status_code == 200, answer.text
        assert answer.json()["name"] == "a"
        assert answer.json()["length"] == len(b'{"i": %d}' % i)  # the body went along again
    assert silent.accepted >= 1  # the silent replica was tried


def test_the_replay_happens_once(
    gateway: Gateway, client: httpx.Client, silent: RawReplica
) -> None:
    """With the silent replica alone, the request goes to it twice (a new connection the
    second time), then 502."""
    _serve(gateway, silent.address)
    answer = _post(client, b"{}")
    assert answer.status_code == 502
    assert "closed the connection before answering" in answer.json()["error"]
    assert silent.accepted == 2


def test_a_body_over_1_mib_is_not_replayed(
    gateway: Gateway, client: httpx.Client, silent: RawReplica
) -> None:
    _serve(gateway, silent.address)
    answer = _post(client, b"x" * (1024 * 1024 + 1))
    assert answer.status_code == 502
    assert silent.accepted == 1


def test_a_replica_that_began_answering_is_not_replayed(
    gateway: Gateway, client: httpx.Client, up_a: Proc
) -> None:
    """Whatever the replica said, a replay could contradict it: a partial answer is a 502."""
    partial = RawReplica(b"HTTP/1.1 200 OK\r\ncontent-le")
    try:
        _serve(gateway, partial.address)
        answer = _post(client, b"{}")
        assert answer.status_code == 502
        assert partial.accepted == 1
    finally:
        partial.close()
