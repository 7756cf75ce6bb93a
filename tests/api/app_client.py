"""The API app in-process (httpx over ASGI), for tests that need no real server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from mlservice.api.app import create_app
from mlservice.home import Home
from mlservice.store.sqlite import SqliteStore

BASE = "/apis/tensorstack.dev/v1beta1"
MLSVCS = f"{BASE}/namespaces/default/mlservices"


def mlservice(name: str, **labels: str) -> dict[str, Any]:
    release = {"name": "v1", "predictor": {"model": {"modelFormat": {"name": "sklearn"}}}}
    return {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLService",
        "metadata": {"name": name, "labels": labels},
        "spec": {"default": "v1", "releases": [release]},
    }


class AppClient:
    """Synchronous calls into the app on one private event loop (no pytest-asyncio here)."""

    def __init__(
        self, app: FastAPI, headers: dict[str, str], *, raise_errors: bool = False
    ) -> None:
        self._runner = asyncio.Runner()
        # raise_errors: an exception that escapes the app reaches the test, as it would reach
        # the server (which logs its traceback).
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_errors)
        self._client = httpx.AsyncClient(
            transport=transport, base_url="http://api", headers=headers
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._runner.run(self._client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        self._runner.run(self._client.aclose())
        self._runner.close()


def app_client(
    tmp_path: Path, store: SqliteStore, token: str | None, *, raise_errors: bool = False
) -> AppClient:
    """A client of the app whose token is "t0k", sending `token` (None: no header)."""
    app = create_app(store=store, home=Home(tmp_path), token="t0k")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return AppClient(app, headers, raise_errors=raise_errors)
