"""`Client`: the SDK over synchronous httpx."""

from __future__ import annotations

from collections.abc import Iterator
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


class Client(BaseClient):
    """Synchronous SDK client; see the module docstring."""

    def _connect(self) -> None:
        self._http = httpx.Client(**self._api_options)
        self._gateway = httpx.Client(timeout=self.timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()
        self._gateway.close()

    def _run(self, plan: Plan[T]) -> T:
        reply: Any = None
        error: MLServiceError | None = None
        while True:
            try:
                step = plan.throw(error) if error else plan.send(reply)
            except StopIteration as finished:
                return finished.value  # type: ignore[no-any-return]
            reply, error = None, None
            try:
                reply = self._do(step)
            except MLServiceError as err:
                error = err

    def _do(self, step: Step) -> Any:
        if isinstance(step, WatchUntil):
            return next((e for e in self._events(step.path, step.params) if step.done(e)), None)
        http = self._gateway if step.gateway else self._http
        try:
            response = http.request(
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

    def _events(self, path: str, params: dict[str, str]) -> Iterator[Obj]:
        try:
            with self._http.stream("GET", path, params=params, timeout=self._streaming) as reply:
                if reply.status_code >= 400:
                    reply.read()
                    check(reply)
                for line in reply.iter_lines():
                    if (event := parse_event(line)) is not None:
                        yield event
        except httpx.TransportError as err:
            raise unreachable(self.endpoints.api, err) from None

    def create(self, obj: Obj) -> Obj:
        return self._run(create_plan(placed(obj, self.namespace)))

    def replace(self, obj: Obj) -> Obj:
        """Replace an object (not its status); pass `metadata.resourceVersion` to guard races."""
        return self._run(replace_plan(placed(obj, self.namespace)))

    def apply(self, obj: Obj) -> Applied:
        return self._run(apply_plan(placed(obj, self.namespace)))

    def get(self, kind: Kind, name: str, *, namespace: str | None = None) -> Obj:
        found: Obj = self._do(Call("GET", self._path(kind, name, namespace=namespace)))
        return found

    def list(
        self,
        kind: Kind,
        *,
        namespace: str | None = None,
        all_namespaces: bool = False,
        label_selector: str | None = None,
    ) -> list[Obj]:
        found = self._do(
            self._list_call(
                kind, namespace=namespace, everywhere=all_namespaces, selector=label_selector
            )
        )
        return list(found["items"])

    def patch(
        self,
        kind: Kind,
        name: str,
        patch: Obj,
        *,
        namespace: str | None = None,
        status: bool = False,
    ) -> Obj:
        """Apply a JSON merge patch (to `status` with status=True)."""
        path = self._path(kind, name, namespace=namespace, status=status)
        patched: Obj = self._do(self._patch_call(path, patch))
        return patched

    def delete(self, kind: Kind, name: str, *, namespace: str | None = None) -> Obj:
        deleted: Obj = self._do(Call("DELETE", self._path(kind, name, namespace=namespace)))
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
    ) -> Iterator[Obj]:
        """`{"type", "object"}` events; without `resource_version`, first the current objects."""
        path, params = self._watch_call(
            kind,
            name=name,
            namespace=namespace,
            everywhere=all_namespaces,
            resource_version=resource_version,
            timeout=timeout,
        )
        return self._events(path, params)

    def wait_ready(
        self,
        kind: Kind,
        name: str,
        *,
        namespace: str | None = None,
        condition: str = "Ready",
        timeout: float = 120.0,
    ) -> Obj:
        """The object once `condition` is True; WaitTimeout after `timeout` seconds."""
        return self._run(
            wait_plan(
                resolve_kind(kind),
                name,
                namespace=self._ns(namespace),
                condition=condition,
                timeout=timeout,
            )
        )

    def predict(
        self,
        name: str,
        data: Any,
        release: str | None = None,
        *,
        namespace: str | None = None,
        model: str | None = None,
        v2: bool = False,
    ) -> Any:
        """Send `data` to the service (or one release) through the gateway; the decoded reply."""
        return self._do(
            self._predict_call(
                name, data=data, release=release, namespace=namespace, model=model, v2=v2
            )
        )
