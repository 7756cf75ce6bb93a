"""`/api/v1/.../pods`: the engine's replicas as read-only Pods (list, get, watch, Tables),
their `log` subresource, and DELETE, which replaces the replica by a new one as a ReplicaSet
replaces a deleted pod. Creating, replacing or patching a pod is 405: replicas are made by
the controllers alone.

The view reads the `Engine` seam (`replicas()`, `failed_preparations()`, `restart()`, and its
replica events for watches); `mls up --api-only` has no engine, so no pods.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from mlservice.api.pod_logs import end_of, follow, read_span
from mlservice.api.pod_objects import PodRecord, failure_pod, replica_pod
from mlservice.api.selectors import Predicate, combine, field_selector, label_selector
from mlservice.api.tables import table_response, table_version, table_watch
from mlservice.api.watch import DEFAULT_TIMEOUT_SECONDS
from mlservice.engine.base import Engine, LogSpan, ReplicaEvent, ReplicaState
from mlservice.errors import InvalidInput, MethodNotAllowed, NotFound
from mlservice.resources.limits import INT64_MAX

Obj = dict[str, Any]
_QUEUE = 10_000  # a watcher this far behind is cut off; its client lists again
_END = None


class PodView:
    """The engine's replicas as Pods. `attach` the engine once the data plane is there."""

    def __init__(self, *, node: str | None = None) -> None:
        self.node = node or socket.gethostname()
        self._engine: Engine | None = None
        self._version = 0
        self._versions: dict[str, int] = {}
        self._watchers: set[asyncio.Queue[tuple[str, ReplicaState, int] | None]] = set()

    def attach(self, engine: Engine) -> None:
        self._engine = engine
        engine.subscribe(self._changed)

    def close(self) -> None:
        """End every watch now (the API is stopping)."""
        for queue in list(self._watchers):
            self._offer(queue, _END)

    @property
    def resource_version(self) -> str:
        return str(self._version)

    async def records(self, namespace: str | None = None) -> list[PodRecord]:
        engine = self._engine
        if engine is None:
            return []
        found: list[PodRecord] = []
        for state in await engine.replicas():
            record = self._record(state)
            if record is not None and namespace in (None, record.namespace):
                found.append(record)
        for failure in await engine.failed_preparations():
            if namespace in (None, failure.revision.namespace):
                version = self._version
                found.append(failure_pod(failure, node=self.node, resource_version=version))
        return sorted(found, key=lambda r: (r.namespace, r.name))

    async def get(self, namespace: str, name: str) -> PodRecord:
        for record in await self.records(namespace):
            if record.name == name:
                return record
        raise NotFound(f'pods "{name}" not found')

    async def delete(self, namespace: str, name: str) -> Obj:
        """Replace the replica by a new one; the Pod as it was, its deletion begun."""
        record = await self.get(namespace, name)
        if record.replica is not None and self._engine is not None:
            await self._engine.restart(record.replica)
        obj = dict(record.obj)
        obj["metadata"] = {**obj["metadata"], "deletionGracePeriodSeconds": 0}
        return obj

    async def alive(self, record: PodRecord) -> bool:
        if self._engine is None or record.replica is None:
            return False
        return any(s.id == record.replica for s in await self._engine.replicas())

    async def watch(
        self, namespace: str | None, *, matches: Predicate | None, initial: bool, seconds: float
    ) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[tuple[str, ReplicaState, int] | None] = asyncio.Queue(_QUEUE)
        self._watchers.add(queue)
        try:
            if initial:
                for record in await self.records(namespace):
                    if matches is None or matches(record.obj):
                        yield _event("ADDED", record.obj)
            async with asyncio.timeout(seconds):
                while (item := await queue.get()) is not None:
                    kind, state, version = item
                    pod = replica_pod(state, node=self.node, resource_version=version)
                    if pod is None or namespace not in (None, pod.namespace):
                        continue
                    if matches is None or matches(pod.obj):
                        yield _event(kind, pod.obj)
        except TimeoutError:
            return
        finally:
            self._watchers.discard(queue)

    def _record(self, state: ReplicaState) -> PodRecord | None:
        version = self._versions.get(state.id, self._version)
        return replica_pod(state, node=self.node, resource_version=version)

    def _changed(self, event: ReplicaEvent) -> None:
        self._version += 1
        if event.type == "DELETED":
            self._versions.pop(event.replica.id, None)
        else:
            self._versions[event.replica.id] = self._version
        for queue in list(self._watchers):
            self._offer(queue, (event.type, event.replica, self._version))

    def _offer(self, queue: asyncio.Queue[tuple[str, ReplicaState, int] | None], item: Any) -> None:
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            self._watchers.discard(queue)
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()  # room for the end mark: that watch ends
            queue.put_nowait(_END)


def _event(kind: str, obj: Obj) -> bytes:
    return (json.dumps({"type": kind, "object": obj}, separators=(",", ":")) + "\n").encode()


@dataclass(frozen=True)
class PodListParams:
    watch: Annotated[bool, Query()] = False
    resource_version: Annotated[str | None, Query(alias="resourceVersion")] = None
    timeout_seconds: Annotated[int | None, Query(alias="timeoutSeconds", ge=0, le=INT64_MAX)] = None
    label_selector: Annotated[str | None, Query(alias="labelSelector")] = None
    field_selector: Annotated[str | None, Query(alias="fieldSelector")] = None


@dataclass(frozen=True)
class LogParams:
    container: Annotated[str | None, Query()] = None
    tail_lines: Annotated[int | None, Query(alias="tailLines", ge=0, le=INT64_MAX)] = None
    limit_bytes: Annotated[int | None, Query(alias="limitBytes", ge=1, le=INT64_MAX)] = None
    follow: Annotated[bool, Query()] = False
    previous: Annotated[bool, Query()] = False


def pods_of(request: Request) -> PodView:
    view: PodView = request.app.state.pods
    return view


Pods = Annotated[PodView, Depends(pods_of)]


def router() -> APIRouter:
    api = APIRouter(tags=["Pod"])
    collection = "/api/v1/namespaces/{namespace}/pods"
    item = collection + "/{name}"

    @api.get("/api/v1/pods", operation_id="listPodForAllNamespaces")
    async def list_all(
        request: Request, pods: Pods, params: Annotated[PodListParams, Depends()]
    ) -> Response:
        return await _list(request, pods, params, None)

    @api.get(collection, operation_id="listNamespacedPod")
    async def list_namespaced(
        request: Request, namespace: str, pods: Pods, params: Annotated[PodListParams, Depends()]
    ) -> Response:
        return await _list(request, pods, params, namespace)

    @api.get(item, operation_id="readNamespacedPod")
    async def read(request: Request, namespace: str, name: str, pods: Pods) -> Response:
        record = await pods.get(namespace, name)
        if version := table_version(request):
            rv = record.obj["metadata"]["resourceVersion"]
            return table_response(
                request, version, kind="Pod", items=[record.obj], resource_version=rv
            )
        return JSONResponse(record.obj)

    @api.delete(item, operation_id="deleteNamespacedPod")
    async def delete(namespace: str, name: str, pods: Pods) -> JSONResponse:
        return JSONResponse(await pods.delete(namespace, name))

    @api.get(item + "/log", operation_id="readNamespacedPodLog")
    async def log(
        namespace: str, name: str, pods: Pods, params: Annotated[LogParams, Depends()]
    ) -> Response:
        return await _log(pods, await pods.get(namespace, name), params)

    for path, method, op in (
        (collection, "POST", "createNamespacedPod"),
        (collection, "DELETE", "deleteCollectionNamespacedPod"),
        (item, "PUT", "replaceNamespacedPod"),
        (item, "PATCH", "patchNamespacedPod"),
    ):
        api.add_api_route(path, _refuse(method), methods=[method], operation_id=op)
    return api


def _refuse(method: str) -> Callable[..., Any]:
    async def refuse(namespace: str) -> Response:
        raise MethodNotAllowed(
            f"{method} is not allowed on pods: they are the replicas the controllers run "
            "(read-only); DELETE one to have it replaced."
        )

    return refuse


async def _list(
    request: Request, pods: PodView, params: PodListParams, namespace: str | None
) -> Response:
    matches = combine(label_selector(params.label_selector), field_selector(params.field_selector))
    version = table_version(request)
    if params.watch:
        timeout = float(params.timeout_seconds or DEFAULT_TIMEOUT_SECONDS)
        initial = params.resource_version in (None, "", "0")
        events = pods.watch(namespace, matches=matches, initial=initial, seconds=timeout)
        stream = StreamingResponse(events, media_type="application/json")
        return table_watch(request, version, kind="Pod", watch=stream) if version else stream
    rv = pods.resource_version
    items = [r.obj for r in await pods.records(namespace) if matches is None or matches(r.obj)]
    if version:
        return table_response(request, version, kind="Pod", items=items, resource_version=rv)
    return JSONResponse(
        {"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": rv}, "items": items}
    )


async def _log(pods: PodView, record: PodRecord, params: LogParams) -> Response:
    container = _container(record, params.container)
    spans = record.previous if params.previous else record.logs
    span = spans.get(container)
    if span is None:
        if params.previous:
            raise InvalidInput(
                f'previous terminated container "{container}" in pod "{record.name}" not found'
            )
        raise InvalidInput(
            f'container "{container}" in pod "{record.name}" is waiting to start: PodInitializing'
        )
    # The current run's end now; what follows it is streamed when following.
    end = span.end if span.end is not None else await asyncio.to_thread(end_of, span.path)
    bounded = LogSpan(span.path, span.start, end)
    text = await asyncio.to_thread(
        read_span, bounded, tail_lines=params.tail_lines, limit_bytes=params.limit_bytes
    )
    if not params.follow or params.previous:
        return Response(text, media_type="text/plain")

    async def stream() -> AsyncIterator[bytes]:
        yield text
        async for chunk in follow(span.path, offset=end, alive=lambda: pods.alive(record)):
            yield chunk

    return StreamingResponse(stream(), media_type="text/plain")


def _container(record: PodRecord, asked: str | None) -> str:
    """The container asked for, or the pod's only one; a 400 as Kubernetes words it."""
    names, inits = record.containers, record.init_containers
    if asked is None or asked == "":
        if len(names) == 1:
            return names[0]
        raise InvalidInput(
            f"a container name must be specified for pod {record.name}, choose one of: "
            f"[{' '.join(names)}] or one of the init containers: [{' '.join(inits)}]"
        )
    if asked not in names and asked not in inits:
        raise InvalidInput(f"container {asked} is not valid for pod {record.name}")
    return asked
