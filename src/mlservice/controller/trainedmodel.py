"""KServe's TrainedModel: a model added to a running InferenceService's replicas, no restart.

As KServe's multi-model serving does (its agent pulls the model into the server's model folder,
then calls the server's repository API), the model is fetched from `spec.model.storageUri` into
a sub-folder named after the TrainedModel in the folder the InferenceService serves (its
predictor's storageUri: a model repository), with a `model-settings.json` giving the format
(`framework`) and the `memory` it is charged; then each ready replica of the predictor is asked
to `POST /v2/repository/models/{name}/load`. Replicas started later load it with the rest of the
repository. Deleting the TrainedModel unloads it from the replicas and removes its folder.

Status: `url` (the InferenceService's URL and the model's predict path, as KServe writes it)
and conditions `InferenceServiceReady`, `IsMMSPredictor`, `Ready`. An InferenceService that is
missing or not ready yet is checked again shortly; its own changes do not wake this controller.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from mlservice.controller.conditions import Condition, conditions_json
from mlservice.controller.context import Context
from mlservice.controller.events import Involved
from mlservice.controller.routing import ServiceRoutes
from mlservice.errors import MLServiceError, NotFound, StorageError
from mlservice.resources import InferenceService, TrainedModel, parse_as
from mlservice.resources.kinds import KSERVE_GROUP
from mlservice.storage import fetch_model
from mlservice.store import Key, Obj

KIND: Final = "TrainedModel"
MARKER = ".mls-trainedmodel"
"""Written in the folders this controller makes, so it never replaces a model it did not add."""
SETTINGS = "model-settings.json"  # server/repository/settings.py's file name
RETRY_SECONDS = 1.0
log = logging.getLogger("mlservice.controller")


class _NotYet(Exception):
    """The parent is not there or not ready: a reason for the status, and try again."""

    def __init__(self, condition: Condition) -> None:
        super().__init__(condition.message)
        self.condition = condition


@dataclass
class _Placed:
    folder: Path
    parent: Key
    spec: str
    loaded: set[str] = field(default_factory=set)
    """Replica addresses that loaded this spec."""


class TrainedModelReconciler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.routes: dict[Key, ServiceRoutes] = {}  # served on the InferenceService's hosts
        self._placed: dict[Key, _Placed] = {}

    def keys(self) -> list[Key]:
        return list(self._placed)

    async def reconcile(self, key: Key) -> float | None:
        try:
            obj = self.ctx.store.get(key)
        except NotFound:
            await self._remove(key)
            return None
        tm = parse_as(TrainedModel, obj)
        try:
            parent_obj, isvc = self._parent(key, tm)
            folder = await self._place(key, tm, isvc)
            await self._load(key, tm)
        except _NotYet as waiting:
            why = waiting.condition
            self._status(obj, [Condition("Ready", False, why.reason, why.message), why])
            return RETRY_SECONDS
        except MLServiceError as exc:
            self._status(obj, [Condition("Ready", False, "LoadFailed", exc.message)])
            self.ctx.events.warning(Involved.of(obj), "LoadFailed", exc.message)
            return RETRY_SECONDS * 5
        url = _url(parent_obj, isvc, tm.name)
        self._status(
            obj,
            [
                Condition("InferenceServiceReady", True),
                Condition("IsMMSPredictor", True),
                Condition("Ready", True),
            ],
            url=url,
        )
        log.info("trainedmodel %s/%s loaded from %s", key.namespace, key.name, folder)
        return None

    # -- the parent ---------------------------------------------------------------------
    def _parent(self, key: Key, tm: TrainedModel) -> tuple[Obj, InferenceService]:
        name = tm.spec.inference_service
        parent = Key(KSERVE_GROUP, "InferenceService", key.namespace, name)
        try:
            obj = self.ctx.store.get(parent)
        except NotFound:
            raise _NotYet(
                Condition(
                    "InferenceServiceReady",
                    False,
                    "InferenceServiceNotFound",
                    f"InferenceService {name} does not exist.",
                )
            ) from None
        conditions = (obj.get("status") or {}).get("conditions") or []
        if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            raise _NotYet(
                Condition(
                    "InferenceServiceReady",
                    False,
                    "InferenceServiceNotReady",
                    f"InferenceService {name} is not ready.",
                )
            )
        return obj, parse_as(InferenceService, obj)

    # -- files --------------------------------------------------------------------------
    async def _place(self, key: Key, tm: TrainedModel, isvc: InferenceService) -> Path:
        """The model in its folder of the parent's repository (fetched again when the spec
        changed); the folder."""
        model = isvc.spec.predictor.effective_model()
        uri = model.storage_uri if model is not None else None
        if not uri:
            raise _NotYet(
                Condition(
                    "IsMMSPredictor",
                    False,
                    "NoModelRepository",
                    f"InferenceService {isvc.name} has no storageUri: multi-model serving "
                    "needs its predictor to serve a folder (a model repository).",
                )
            )
        spec = json.dumps(tm.spec.model.model_dump(mode="json"), sort_keys=True)
        placed = self._placed.get(key)
        if placed is not None and placed.spec == spec and placed.folder.is_dir():
            return placed.folder
        folder = await asyncio.to_thread(self._copy_in, tm, uri)
        parent = Key(KSERVE_GROUP, "InferenceService", key.namespace, isvc.name)
        self._placed[key] = _Placed(folder, parent, spec)
        return folder

    def _copy_in(self, tm: TrainedModel, parent_uri: str) -> Path:
        repository = fetch_model(parent_uri, home=self.ctx.home)
        if not repository.is_dir():
            raise StorageError(
                f"The InferenceService's storageUri {parent_uri} is a file, not a folder of models."
            )
        folder = repository / tm.name
        if folder.exists() and not (folder / MARKER).is_file():
            raise StorageError(
                f"Model folder {tm.name} exists in {parent_uri} and is not a TrainedModel's."
            )
        source = fetch_model(tm.spec.model.storage_uri, home=self.ctx.home)
        if repository.resolve().is_relative_to(source.resolve()):  # a copy into itself
            raise StorageError(
                f"The TrainedModel's storageUri {tm.spec.model.storage_uri} holds the "
                f"InferenceService's model folder {parent_uri}; name the model's own folder."
            )
        staging = repository / f".{tm.name}.staging"
        shutil.rmtree(staging, ignore_errors=True)
        if source.is_dir():
            shutil.copytree(source, staging, symlinks=False)
        else:
            staging.mkdir()
            shutil.copy2(source, staging / source.name)
        settings = {
            "name": tm.name,
            "parameters": {"format": tm.spec.model.framework},
            "memory": tm.spec.model.memory,
        }
        (staging / SETTINGS).write_text(json.dumps(settings))
        (staging / MARKER).write_text(tm.spec.model.storage_uri + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
        return folder

    # -- replicas -----------------------------------------------------------------------
    async def _addresses(self, parent: Key) -> list[str]:
        prefix = f"{parent.namespace}/{parent.name}-predictor-"
        replicas = await self.ctx.engine.replicas()
        return [
            r.address
            for r in replicas
            if r.ready and r.address is not None and str(r.revision_id).startswith(prefix)
        ]

    async def _load(self, key: Key, tm: TrainedModel) -> None:
        placed = self._placed[key]
        addresses = await self._addresses(placed.parent)
        if not addresses:
            raise _NotYet(
                Condition(
                    "InferenceServiceReady",
                    False,
                    "NoReadyReplica",
                    f"InferenceService {placed.parent.name} has no ready replica.",
                )
            )
        async with httpx.AsyncClient(timeout=60.0) as client:
            for address in addresses:
                if address in placed.loaded:
                    continue
                await _call(client, address, tm.name, "load")
                placed.loaded.add(address)
                self.ctx.events.normal(
                    Involved.of(self.ctx.store.get(key)),
                    "ModelLoaded",
                    f"Model {tm.name} loaded by replica {address} of {placed.parent.name}.",
                )

    async def _remove(self, key: Key) -> None:
        placed = self._placed.pop(key, None)
        if placed is None:
            return
        # The folder goes first: a replica that unloads a model whose folder is gone forgets it
        # (404 from then on), and one starting meanwhile does not load it.
        if (placed.folder / MARKER).is_file():
            await asyncio.to_thread(shutil.rmtree, placed.folder, True)
        addresses = await self._addresses(placed.parent)
        async with httpx.AsyncClient(timeout=30.0) as client:
            for address in addresses:
                try:
                    await _call(client, address, key.name, "unload")
                except MLServiceError as exc:
                    log.warning("trainedmodel %s: %s", key.name, exc.message)

    # -- status -------------------------------------------------------------------------
    def _status(self, obj: Obj, conditions: list[Condition], *, url: str | None = None) -> None:
        previous = (obj.get("status") or {}).get("conditions")
        status: dict[str, Any] = {
            "conditions": conditions_json(conditions, previous, now=self.ctx.now()),
            "observedGeneration": obj["metadata"].get("generation"),
        }
        if url is not None:
            status["url"] = url
            status["address"] = {"url": url}
        self.ctx.write_status(obj, status)


async def _call(client: httpx.AsyncClient, address: str, name: str, verb: str) -> None:
    url = f"http://{address}/v2/repository/models/{name}/{verb}"
    try:
        reply = await client.post(url)
    except httpx.HTTPError as exc:
        raise StorageError(
            f"Replica {address} did not answer the {verb} of {name}: {exc}."
        ) from exc
    if reply.status_code != 200:
        try:
            detail = str(reply.json().get("error"))
        except ValueError:
            detail = reply.text[:200]
        raise StorageError(f"Replica {address} could not {verb} model {name}: {detail}")


def _url(parent: Obj, isvc: InferenceService, name: str) -> str:
    """KServe's: the InferenceService URL and the predict path of the protocol it speaks."""
    base = str((parent.get("status") or {}).get("url") or "")
    model = isvc.spec.predictor.effective_model()
    if model is not None and model.protocol_version == "v2":
        return f"{base}/v2/models/{name}/infer"
    return f"{base}/v1/models/{name}:predict"
