"""Helpers for the controller tests: applying manifests, waiting for the controllers to settle,
reading status and events. A module of its own so test files can import it."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from mlservice.controller import ControllerConfig, Controllers, MemorySink
from mlservice.engine import RevisionId
from mlservice.engine.fake import FakeEngine
from mlservice.engine.local.resolve import LocalRevision
from mlservice.errors import AlreadyExists
from mlservice.home import Home
from mlservice.resources import validate_object
from mlservice.store import Key, Obj, Scope
from mlservice.store.sqlite import SqliteStore

Manifest = dict[str, Any]
KSERVE_KINDS = ("InferenceService", "ServingRuntime", "ClusterServingRuntime")


def mlservice(name: str = "iris", *, uri: str = "pvc://models/iris/", **spec: Any) -> Manifest:
    release = {"name": "v1", "predictor": {"model": {"modelFormat": {"name": "sklearn"}}}}
    release["predictor"]["model"]["modelUri"] = uri
    return {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLService",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"default": "v1", "releases": [release], **spec},
    }


@dataclass
class World:
    store: SqliteStore
    engine: FakeEngine
    controllers: Controllers
    sink: MemorySink
    home: Home

    def apply(self, manifest: Manifest) -> Obj:
        body = validate_object(copy.deepcopy(manifest))
        try:
            return self.store.create(body)
        except AlreadyExists:
            return self.store.replace(body)

    def get(self, kind: str, name: str, namespace: str = "ns") -> Obj:
        group = "" if kind in ("Secret", "Event", "PersistentVolumeClaim") else "tensorstack.dev"
        if kind in KSERVE_KINDS:
            group = "serving.kserve.io"
            namespace = "" if kind == "ClusterServingRuntime" else namespace
        return self.store.get(Key(group, kind, namespace, name))

    def status(self, name: str = "iris", kind: str = "MLService") -> dict[str, Any]:
        found: dict[str, Any] = self.get(kind, name).get("status") or {}
        return found

    def condition(self, name: str = "iris", type_: str = "Ready", kind: str = "MLService") -> Obj:
        conditions = self.status(name, kind).get("conditions") or []
        return next(c for c in conditions if c["type"] == type_)

    def events(self, namespace: str = "ns") -> list[tuple[str, str]]:
        """(reason, message) of every event, in the order they were first recorded."""
        items = self.store.list(Scope("", "Event", namespace)).items
        items.sort(key=lambda e: e["eventTime"])
        return [(e["reason"], e["message"]) for e in items]

    def local(self, revision: str, namespace: str = "ns") -> LocalRevision:
        """The revision as the local engine's resolver prepared it (model dir, secrets)."""
        prepared = self.engine.prepared[RevisionId(f"{namespace}/{revision}")]
        assert isinstance(prepared, LocalRevision)
        return prepared

    def ensured(self, revision: str, namespace: str = "ns") -> int | None:
        """The replica count last asked for, or None if never ensured (or stopped since)."""
        rid = RevisionId(f"{namespace}/{revision}")
        if rid not in self.engine.specs:
            return None
        calls = self.engine.calls
        asked = [c.replicas for c in calls if c.revision_id == rid and c.method == "ensure"]
        return asked[-1] if asked else None

    def stopped(self, revision: str, namespace: str = "ns") -> bool:
        rid = RevisionId(f"{namespace}/{revision}")
        return any(c.method == "stop" and c.revision_id == rid for c in self.engine.calls)

    def mark_ready(self, revision: str, namespace: str = "ns") -> None:
        self.engine.mark_all_ready(RevisionId(f"{namespace}/{revision}"))

    async def settle(self) -> None:
        """Wait until the controllers have nothing left to do (bounded)."""
        queue = self.controllers.queue
        async with asyncio.timeout(10):
            while True:
                before = queue.passes
                for _ in range(3):
                    await asyncio.sleep(0.01)
                await self.controllers.idle()
                if queue.passes == before:
                    return

    @contextlib.asynccontextmanager
    async def restarted(self) -> AsyncIterator[FakeEngine]:
        """What a restarted `mls up` does: a fresh engine and controllers over the same store."""
        await self.controllers.close()
        engine = FakeEngine()
        config = ControllerConfig(home=self.home, domain="example.test", gateway_port=8080)
        again = Controllers(store=self.store, engine=engine, config=config)
        self.controllers, self.engine = again, engine
        await again.start()
        try:
            yield engine
        finally:
            await again.close()
