"""Helpers for the canary analysis e2e tests: a python model whose canary fails one request in
N, and load sent without pause through the gateway while the analysis judges it."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import httpx

from mlservice.cli.background import UpProcess
from mlservice.client import Endpoints
from mlservice.naming import Hosts

INTERVAL = 3.0
"""The analysis interval, in seconds, the tests' manifests set."""

MODEL = """
from mlservice import Model


class Release(Model):
    calls = 0

    async def predict(self, payload, headers=None):
        Release.calls += 1
        if {fail_every} and Release.calls % {fail_every} == 0:
            raise RuntimeError("the canary fails one request in {fail_every}")
        return {{"predictions": ["{release}"]}}
"""


def write_model(folder: Path, *, release: str, fail_every: int) -> Path:
    """`folder`, made, with a model.py answering `release` and failing every `fail_every`th
    request (0: none)."""
    folder.mkdir(parents=True)
    (folder / "model.py").write_text(MODEL.format(release=release, fail_every=fail_every))
    return folder


@dataclasses.dataclass
class Load:
    """Requests sent without pause, one sender per target; who answered and with what status,
    per target."""

    answers: Counter[tuple[str, int, str]] = dataclasses.field(default_factory=Counter)
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)

    def count(self, target: str, *, ok: bool) -> int:
        return sum(
            n
            for (where, status, _), n in self.answers.items()
            if where == target and (status == 200) == ok
        )


@contextlib.contextmanager
def load(
    up: UpProcess, model: str, targets: Callable[[Hosts], Mapping[str, str]]
) -> Iterator[Load]:
    """Predict requests for `model` to each target's host (`targets` names them from the
    gateway's hosts), until the block ends."""
    endpoints = Endpoints.resolve(home=up.home)
    assert endpoints.gateway is not None
    found = Load()

    def send(target: str, host: str) -> None:
        with httpx.Client(base_url=endpoints.gateway or "", timeout=10) as client:
            while not found.stop.is_set():
                answer = client.post(
                    f"/v1/models/{model}:predict", json={"instances": [1]}, headers={"Host": host}
                )
                body = answer.json().get("predictions", ["?"])[0] if answer.is_success else ""
                found.answers[(target, answer.status_code, body)] += 1

    hosts = targets(Hosts(endpoints.domain)).items()
    threads = [threading.Thread(target=send, args=item, daemon=True) for item in hosts]
    for thread in threads:
        thread.start()
    try:
        yield found
    finally:
        found.stop.set()
        for thread in threads:
            thread.join(timeout=15)
