"""`AsyncClient`: the SDK over asynchronous httpx, for event loops."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from mlservice.client._base import BaseClient, Kind
from mlservice.client._plans import (
    Applied,
    Call,
    Obj,
    Plan,
    Step,
    T,
    WatchUntil,
    apply_plan,
    check,
    create_plan,
    placed,
    replace_plan,
    unreachable,
    wait_plan,
)
from mlservice.client._wire import parse_event, resolve_kind
from mlservice.errors import MLServiceError


class AsyncClient(BaseClient):
    """The asynchronous twin of `Client`, for event loops."""

    def _connect(self) -> None:
        self._http = httpx.AsyncClient(**self._api_options)
        self._gateway = httpx.AsyncClient(timeout=self.timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._gateway.aclose()

    async def _run(self, plan: Plan[T]) -> T:
        reply: Any = None
        error: MLServiceError | None = None
        while True:
            try:
                step = plan.throw(error) if error else plan.send(reply)
            except StopIteration as finished:
                return finished.value  # type: ignore[no-any-return]
            reply, error = None, None
            try:
                reply = await self._do(step)
            except MLServiceError as err:
                error = err

    async def _do(self, step: Step) -> Any:
        if isinstance(step, WatchUntil):
            async for event in self._events(step.path, step.params):
                if step.done(event):
                    return event
            return None
        http = self._gateway if step.gateway else self._http
        try:
            response = await http.request(
                step.method,
                step.path,
                json=step.json,
                content=step.content,
                params=step.params,
                headers=step.headers,
            )
        except httpx.TransportError as err:
            raise unreachable(self._where(step), err) from None
        return check(response)

    async def _events(self, path: str, params: dict[str, str]) -> AsyncIterator[Obj]:
        try:
            async with self._http.stream(
                "GET", path, params=params, timeout=self._streaming
            ) as reply:
                if reply.status_code >= 400:
                    await reply.aread()
                    check(reply)
                async for line in reply.aiter_lines():
                    if (event := parse_event(line)) is not None:
                        yield event
        except httpx.TransportError as err:
            raise unreachable(self.endpoints.api, err) from None

    async def create(self, obj: Obj) -> Obj:
        return await self._run(create_plan(placed(obj, self.namespace)))

    async def replace(self, obj: Obj) -> Obj:
        return await self._run(replace_plan(placed(obj, self.namespace)))

    async def apply(self, obj: Obj) -> Applied:
        return await self._run(apply_plan(placed(obj, self.namespace)))

    async def get(self, kind: Kind, name: str, *, namespace: str | None = None) -> Obj:
        found: Obj = await self._do(Call("GET", self._path(kind, name, namespace=namespace)))
        return found

    async def list(
        self,
        kind: Kind,
        *,
        namespace: str | None = None,
        all_namespaces: bool = False,
        label_selector: str | None = None,
    ) -> list[Obj]:
        found = await self._do(
            self._list_call(
                kind, namespace=namespace, everywhere=all_namespaces, selector=label_selector
            )
        )
        return list(found["items"])

    async def patch(
        self,
        kind: Kind,
        name: str,
        patch: Obj,
        *,
        namespace: str | None = None,
        status: bool = False,
    ) -> Obj:
        path = self._path(kind, name, namespace=namespace, status=status)
        patched: Obj = await self._do(self._patch_call(path, patch))
        return patched

    async def delete(self, kind: Kind, name: str, *, namespace: str | None = None) -> Obj:
        deleted: Obj = await self._do(Call("DELETE", self._path(kind, name, namespace=namespace)))
        return deleted

    def watch(
        self,
        kind: Kind,
        *,
        name: str | None = None,
        namespace: str | None = None,
        all_namespaces: bool = False,
        resource_version: str | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[Obj]:
        path, params = self._watch_call(
            kind,
            name=name,
            namespace=namespace,
            everywhere=all_namespaces,
            resource_version=resource_version,
            timeout=timeout,
        )
        return self._events(path, params)

    async def wait_ready(
        self,
        kind: Kind,
        name: str,
        *,
        namespace: str | None = None,
        condition: str = "Ready",
        timeout: float = 120.0,  # noqa: ASYNC109 - the same call as Client's; the plan bounds it
    ) -> Obj:
        plan = wait_plan(
            resolve_kind(kind),
            name,
            namespace=self._ns(namespace),
            condition=condition,
            timeout=timeout,
        )
        return await self._run(plan)

    async def predict(
        self,
        name: str,
        data: Any,
        release: str | None = None,
        *,
        namespace: str | None = None,
        model: str | None = None,
        v2: bool = False,
    ) -> Any:
        return await self._do(
            self._predict_call(
                name, data=data, release=release, namespace=namespace, model=model, v2=v2
            )
        )
