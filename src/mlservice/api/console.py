"""The web console's server side: the shell and its assets, the login, and three data views.

    GET  /ui/, /ui/{asset}          the shell (no data) and its scripts and styles: open
    POST /ui/session                {"token"} -> the HttpOnly, SameSite=Strict session cookie
    DELETE /ui/session              forget the cookie
    GET  /console/v1/session        200 with a valid cookie or token (the shell's login check)
    GET  /console/v1/metrics        the last 15 minutes per release (`metrics_history`)
    GET  /console/v1/requests       the request log as request/response pairs, filtered
    POST /console/v1/yaml           YAML text -> the object as JSON (or where it fails to parse)
    POST /console/v1/yaml/dump      an object -> YAML text
    POST /console/v1/try            send a body to a service through the gateway (try it)
    GET  /console/v1/rss            resident memory of a service's replica processes

Everything else the console does is a plain API call a CLI user could make too.
"""

from __future__ import annotations

import hmac
import os
from collections import deque
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

import orjson
import yaml
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from mlservice.api import tryit
from mlservice.api.auth import SESSION_COOKIE, session_value
from mlservice.api.metrics_history import MetricsHistory
from mlservice.api.objects import Objects, Target
from mlservice.api.pods import PodView
from mlservice.api.status import status_body
from mlservice.console import asset
from mlservice.gateway.reqlog import human, localfile
from mlservice.resources.kinds import KINDS

MAX_PAIRS = 500
SCAN_BYTES = 32 << 20
SERVICE_LABEL = "serving.mlservice.dev/service"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MAX_YAML = 1 << 20
SESSION_SECONDS = 12 * 3600


def router(*, token: str, history: MetricsHistory | None, request_logs: Path) -> APIRouter:
    api = APIRouter(include_in_schema=False)
    cookie = session_value(token)

    @api.get("/ui")
    async def shell_redirect() -> Response:
        return RedirectResponse("/ui/")

    @api.get("/ui/")
    async def shell() -> Response:
        return _asset("index.html")

    @api.get("/ui/{name}")
    async def static(name: str) -> Response:
        return _asset(name)

    @api.post("/ui/session")
    async def login(request: Request) -> Response:
        body = await request.json()
        given = body.get("token") if isinstance(body, dict) else None
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(), token.encode()):
            return _status(401, "The token does not match this mls up's ($MLS_HOME/token).")
        answer = Response(status_code=204)
        answer.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=SESSION_SECONDS,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return answer

    @api.delete("/ui/session")
    async def logout() -> Response:
        answer = Response(status_code=204)
        answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return answer

    @api.get("/console/v1/session")
    async def session() -> dict[str, Any]:
        return {"authenticated": True}

    @api.get("/console/v1/metrics")
    async def metrics(namespace: str, service: str) -> dict[str, Any]:
        if history is None:
            return {"interval": 0, "releases": {}}
        return {"interval": history.interval, "releases": history.releases(namespace, service)}

    @api.get("/console/v1/requests")
    async def requests(
        namespace: str,
        service: str,
        release: str | None = None,
        status: Annotated[str | None, Query(pattern="^(answered|unanswered)$")] = None,
        q: str | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAIRS)] = 100,
    ) -> dict[str, Any]:
        found = await run_in_threadpool(
            _pairs,
            request_logs,
            namespace=namespace,
            service=service,
            release=release or None,
            status=status,
            q=q or None,
            limit=limit,
        )
        return {"items": found}

    @api.post("/console/v1/yaml")
    async def parse_yaml(request: Request) -> Response:
        text = (await request.body())[:MAX_YAML].decode("utf-8", errors="replace")
        try:
            obj = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(err, "problem", None) or str(err)
            return _status(400, f"Not valid YAML{where}: {problem}.")
        if not isinstance(obj, dict):
            return _status(400, "The YAML is not one object (a mapping with apiVersion, kind).")
        return JSONResponse({"object": obj})

    @api.post("/console/v1/try")
    async def try_it(
        request: Request,
        kind: Annotated[str, Query(pattern="^[a-z]+$")],
        namespace: str,
        name: str,
        path: Annotated[str, Query(pattern="^/[A-Za-z0-9_./:-]*$")],
        release: str | None = None,
    ) -> Response:
        info = next((k for k in KINDS if k.plural == kind), None)
        if info is None:
            return _status(404, f"No kind {kind!r}.")
        objects: Objects = request.app.state.objects
        obj = await run_in_threadpool(objects.get, Target(info, namespace, name))
        url = tryit.service_url(obj, release=release or None)
        if url is None:
            return _status(409, f"{info.kind} {namespace}/{name} has no URL yet (not ready).")
        content_type = request.headers.get("content-type", "application/json")
        answer = await tryit.send(
            url, path=path, body=await request.body(), content_type=content_type
        )
        return JSONResponse(answer)

    @api.get("/console/v1/rss")
    async def rss(request: Request, namespace: str, service: str) -> dict[str, Any]:
        pods: PodView = request.app.state.pods
        records = await pods.records(namespace)
        mine = [r.obj for r in records if _labels(r.obj).get(SERVICE_LABEL) == service]
        return {"items": [{"name": o["metadata"]["name"], "rssBytes": _rss(o)} for o in mine]}

    @api.post("/console/v1/yaml/dump")
    async def dump_yaml(request: Request) -> Response:
        obj = await request.json()
        text = yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)
        return JSONResponse({"text": text})

    return api


def _asset(name: str) -> Response:
    found = asset(name)
    if found is None:
        return _status(404, f"No console asset {name!r}.")
    # The shell changes with the package; a reload after an upgrade gets the new one.
    headers = {"cache-control": "no-cache", "x-content-type-options": "nosniff"}
    if name == "index.html":
        headers["content-security-policy"] = (
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
            "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
    return Response(found.body, media_type=found.content_type, headers=headers)


def _status(code: int, message: str) -> JSONResponse:
    return JSONResponse(status_body(code=code, message=message), status_code=code)


def _pairs(
    folder: Path,
    *,
    namespace: str,
    service: str,
    release: str | None,
    status: str | None,
    q: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The newest `limit` request/response pairs of a service that pass the filters."""
    pairs: dict[str, dict[str, Any]] = {}
    order: deque[str] = deque()
    for doc in _events(folder, namespace=namespace, service=service, release=release):
        event_id = str(doc.get("id", ""))
        pair = pairs.get(event_id)
        if pair is None:
            pair = pairs[event_id] = _new_pair(doc)
            order.append(event_id)
        kind = "response" if str(doc.get("type", "")).endswith(".response") else "request"
        pair[kind] = doc
    chosen: list[dict[str, Any]] = []
    for event_id in reversed(order):
        pair = pairs[event_id]
        if _passes(pair, status=status, q=q):
            chosen.append(pair)
            if len(chosen) >= limit:
                break
    return chosen


def _events(
    folder: Path, *, namespace: str, service: str, release: str | None
) -> Iterator[Mapping[str, Any]]:
    for doc in _recent(folder):
        if human.matches(doc, service=service, namespace=namespace, release=release):
            yield doc


def _recent(folder: Path, budget: int = SCAN_BYTES) -> Iterator[dict[str, Any]]:
    """The events in the last `budget` bytes of the day files, oldest first: a page that
    polls costs the same however long the log has grown."""
    chunks: list[bytes] = []
    for path in reversed(localfile.log_files(folder)):
        if budget <= 0:
            break
        with path.open("rb") as lines:
            size = lines.seek(0, os.SEEK_END)
            start = max(0, size - budget)
            lines.seek(start)
            chunk = lines.read(size - start)
        budget -= len(chunk)
        if start > 0:
            chunk = chunk[chunk.find(b"\n") + 1 :]  # the first line is cut: skip it
        chunks.append(chunk)
    for chunk in reversed(chunks):
        for line in chunk.splitlines():
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a line still being written
            if isinstance(doc, dict):
                yield doc


def _new_pair(doc: Mapping[str, Any]) -> dict[str, Any]:
    source = str(doc.get("source", ""))
    service = str(doc.get("mlservicename") or doc.get("inferenceservicename") or "")
    component = str(doc.get("component", ""))
    prefix = f"{service}-{component}-"
    return {
        "id": doc.get("id"),
        "time": doc.get("time"),
        "release": source[len(prefix) :] if source.startswith(prefix) else "",
        "component": component,
        "url": doc.get("inferenceurl", ""),
        "traceparent": doc.get("traceparent", ""),
        "request": None,
        "response": None,
    }


def _passes(pair: Mapping[str, Any], *, status: str | None, q: str | None) -> bool:
    if status == "answered" and pair["response"] is None:
        return False
    if status == "unanswered" and pair["response"] is not None:
        return False
    if q is not None:
        # An event id, or the trace id a client sent in `traceparent`.
        return q in str(pair["id"]) or q in str(pair["traceparent"])
    return True


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


def _rss(pod: Mapping[str, Any]) -> int | None:
    """The resident memory of the pod's main process (its `mls://PID`), None when gone."""
    statuses = pod.get("status", {}).get("containerStatuses") or []
    container = str(statuses[0].get("containerID", "")) if statuses else ""
    if not container.startswith("mls://"):
        return None
    try:
        with open(f"/proc/{int(container[len('mls://') :])}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None
