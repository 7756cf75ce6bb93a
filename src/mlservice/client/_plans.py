"""Each SDK operation written once, as a plan: a generator that yields the requests it needs and
receives their decoded replies (or has their errors thrown in). `Client` and `AsyncClient` only
differ in how they carry a step out."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import httpx

from mlservice.client._endpoints import Endpoints
from mlservice.client._wire import error_from, kind_of, path_for, watch_params
from mlservice.errors import (
    AlreadyExists,
    Conflict,
    Gone,
    MLServiceError,
    NotFound,
    Unauthorized,
    Unavailable,
)
from mlservice.naming import Hosts
from mlservice.resources.kinds import KindInfo

Obj = dict[str, Any]
T = TypeVar("T")
_APPLY_ATTEMPTS = 3


class WaitTimeout(MLServiceError, TimeoutError):
    status_code = 504
    reason = "Timeout"


@dataclass(frozen=True)
class Applied:
    """What `apply` did to one object."""

    object: Obj
    action: Literal["created", "configured", "unchanged"]

    @property
    def kind(self) -> str:
        return str(self.object["kind"])

    @property
    def name(self) -> str:
        return str(self.object["metadata"]["name"])


def condition_status(obj: Obj, condition: str) -> str | None:
    """The condition's status ("True", "False", "Unknown"), or None if it is not reported."""
    for found in (obj.get("status") or {}).get("conditions") or []:
        if found.get("type") == condition:
            return str(found.get("status"))
    return None


def condition_summary(obj: Obj, condition: str) -> str:
    for found in (obj.get("status") or {}).get("conditions") or []:
        if found.get("type") == condition:
            parts = (
                f"{condition}={found.get('status')}",
                found.get("reason"),
                found.get("message"),
            )
            return ": ".join(str(p) for p in parts if p)
    return f"no {condition} condition yet"


@dataclass(frozen=True)
class Call:
    """One request; the reply is its decoded JSON. `gateway` calls go to the data plane."""

    method: str
    path: str
    json: Any = None
    content: bytes | None = None  # a raw body (an image for a transformer), instead of JSON
    params: dict[str, str] | None = None
    headers: dict[str, str] | None = None
    gateway: bool = False


@dataclass(frozen=True)
class WatchUntil:
    """Stream events; the reply is the first event `done` accepts, or None when the stream ends."""

    path: str
    params: dict[str, str]
    done: Callable[[Obj], bool] = field(default=lambda _: False)


Step = Call | WatchUntil
Plan = Generator[Step, Any, T]


def placed(obj: Any, namespace: str) -> Obj:
    """A copy of `obj` in `namespace` unless it names one; a cluster-scoped object in none."""
    kind = kind_of(obj)
    placed: Obj = copy.deepcopy(obj)
    metadata = placed.setdefault("metadata", {})
    if kind.namespaced:
        metadata.setdefault("namespace", namespace)
    else:
        metadata.pop("namespace", None)
    return placed


def object_label(kind: KindInfo, namespace: str | None, name: str | None) -> str:
    """`Kind ns/name`, or `Kind name` for a cluster-scoped kind, as messages name objects."""
    return f"{kind.kind} {name}" if not kind.namespaced else f"{kind.kind} {namespace}/{name}"


def create_plan(obj: Obj) -> Plan[Obj]:
    namespace = obj["metadata"].get("namespace")
    created: Obj = yield Call("POST", path_for(kind_of(obj), namespace), obj)
    return created


def replace_plan(obj: Obj) -> Plan[Obj]:
    meta = obj["metadata"]
    replaced: Obj = yield Call(
        "PUT", path_for(kind_of(obj), meta.get("namespace"), name=meta["name"]), obj
    )
    return replaced


def apply_plan(obj: Obj) -> Plan[Applied]:
    """Create, else replace what is there (its status kept); `unchanged` when nothing differs,
    which the server signals by keeping the resourceVersion."""
    kind, meta = kind_of(obj), obj["metadata"]
    for _ in range(_APPLY_ATTEMPTS):
        try:
            return Applied((yield from create_plan(obj)), "created")
        except AlreadyExists:
            pass
        try:
            current = yield Call(
                "GET", path_for(kind, meta.get("namespace"), name=meta.get("name"))
            )
            desired = copy.deepcopy(obj)
            desired["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            updated = yield from replace_plan(desired)
        except (NotFound, Conflict):
            continue  # changed under us: start over from a fresh read
        same = updated["metadata"]["resourceVersion"] == current["metadata"]["resourceVersion"]
        return Applied(updated, "unchanged" if same else "configured")
    label = object_label(kind, meta.get("namespace"), meta.get("name"))
    raise Conflict(f"{label} kept changing; retry.")


def wait_plan(
    kind: KindInfo, name: str, *, namespace: str, condition: str, timeout: float
) -> Plan[Obj]:
    """The object once `condition` is True, following a watch from the last version seen."""
    deadline = time.monotonic() + timeout
    obj: Obj = yield Call("GET", path_for(kind, namespace, name=name))

    def done(event: Obj) -> bool:
        return event["type"] == "DELETED" or condition_status(event["object"], condition) == "True"

    while condition_status(obj, condition) != "True":
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(
                f"{object_label(kind, namespace, name)} was not {condition} within {timeout:g}s "
                f"({condition_summary(obj, condition)})."
            )
        since = obj["metadata"]["resourceVersion"]
        params = watch_params(name=name, resource_version=since, timeout=remaining)
        try:
            event = yield WatchUntil(path_for(kind, namespace), params, done)
        except Gone:  # history compacted while we were away: read the object afresh
            obj = yield Call("GET", path_for(kind, namespace, name=name))
            continue
        if event is not None and event["type"] == "DELETED":
            raise NotFound(
                f"{object_label(kind, namespace, name)} was deleted while waiting for {condition}."
            )
        if event is not None:
            obj = event["object"]
    return obj


def predict_call(
    endpoints: Endpoints,
    name: str,
    *,
    data: Any,
    namespace: str,
    release: str | None,
    model: str | None,
    v2: bool,
) -> Call:
    """Python does not resolve `*.localhost`, so the request goes to the gateway's address and
    the Host header picks the service (or one release of it)."""
    if endpoints.gateway is None:
        raise Unavailable("No gateway is running; start `mls up` (it records the gateway address).")
    hosts = Hosts(endpoints.domain)
    if release is None:
        host = hosts.service(name, namespace)
    else:
        host = hosts.release(name, namespace, release)
    model = model or name
    path = f"/v2/models/{model}/infer" if v2 else f"/v1/models/{model}:predict"
    if isinstance(data, bytes):
        return Call(
            "POST", endpoints.gateway + path, content=data, headers={"Host": host}, gateway=True
        )
    return Call("POST", endpoints.gateway + path, data, headers={"Host": host}, gateway=True)


def check(response: httpx.Response) -> Any:
    if response.status_code < 400:
        return response.json() if response.content else None
    if response.status_code == 401:
        raise Unauthorized(
            f"{response.request.url.host}:{response.request.url.port} refused the request for "
            "lack of a valid token; set MLS_TOKEN or make $MLS_HOME/token readable."
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    raise error_from(response.status_code, body, fallback=response.text[:200])


def unreachable(url: str, err: Exception) -> Unavailable:
    return Unavailable(f"Cannot reach {url} ({type(err).__name__}); is `mls up` running?")
