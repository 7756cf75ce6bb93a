"""What both clients share: endpoints, options and building the calls of the simple verbs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from mlservice.client._endpoints import Endpoints
from mlservice.client._plans import Call, Obj, predict_call
from mlservice.client._wire import path_for, resolve_kind, watch_params
from mlservice.home import Home
from mlservice.resources.kinds import KindInfo

Kind = str | KindInfo


class BaseClient:
    def __init__(
        self,
        api: str | None = None,
        *,
        token: str | None = None,
        home: Home | str | Path | None = None,
        gateway: str | None = None,
        namespace: str = "default",
        timeout: float = 30.0,
    ) -> None:
        self.endpoints = Endpoints.resolve(api, token=token, home=home, gateway=gateway)
        self.namespace = namespace
        self.timeout = timeout
        auth = {"Authorization": f"Bearer {self.endpoints.token}"} if self.endpoints.token else {}
        # The token is for the API only: gateway calls go out on a separate, tokenless client.
        self._api_options: dict[str, Any] = {
            "base_url": self.endpoints.api,
            "headers": auth,
            "timeout": timeout,
        }
        self._streaming = httpx.Timeout(timeout, read=None)
        self._connect()

    def _connect(self) -> None:
        raise NotImplementedError

    def _where(self, step: Call) -> str:
        return step.path if step.gateway else self.endpoints.api

    def _ns(self, namespace: str | None) -> str:
        return namespace or self.namespace

    def _path(self, kind: Kind, name: str, *, namespace: str | None, status: bool = False) -> str:
        return path_for(resolve_kind(kind), self._ns(namespace), name=name, status=status)

    def _list_call(
        self, kind: Kind, *, namespace: str | None, everywhere: bool, selector: str | None
    ) -> Call:
        scope = None if everywhere else self._ns(namespace)
        params = {"labelSelector": selector} if selector else None
        return Call("GET", path_for(resolve_kind(kind), scope), params=params)

    def _patch_call(self, path: str, patch: Obj) -> Call:
        return Call("PATCH", path, patch, headers={"Content-Type": "application/merge-patch+json"})

    def _watch_call(
        self,
        kind: Kind,
        *,
        name: str | None,
        namespace: str | None,
        everywhere: bool,
        resource_version: str | None,
        timeout: float | None,
    ) -> tuple[str, dict[str, str]]:
        path = path_for(resolve_kind(kind), None if everywhere else self._ns(namespace))
        return path, watch_params(name=name, resource_version=resource_version, timeout=timeout)

    def _predict_call(
        self,
        name: str,
        *,
        data: Any,
        release: str | None,
        namespace: str | None,
        model: str | None,
        v2: bool,
    ) -> Call:
        return predict_call(
            self.endpoints,
            name,
            data=data,
            namespace=self._ns(namespace),
            release=release,
            model=model,
            v2=v2,
        )
