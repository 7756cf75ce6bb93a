"""The few Kubernetes API calls the operator makes, over the `kubernetes` client's connection.

Children are written with server-side apply (`fieldManager` ours, `force`), so a field we stop
rendering is dropped and fields others own are left alone. An API server answering 404 to an
apply (an emulator; a real one creates the object) gets a create instead. Parents' status goes
through the `status` subresource as a JSON merge patch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import kubernetes
import urllib3

FIELD_MANAGER: Final = "mls-operator"
TIMEOUT: Final = 30.0

# The plural of every kind the operator reads or writes: the renderer's output and our parents.
PLURALS: Final[Mapping[tuple[str, str], str]] = {
    ("serving.knative.dev/v1", "Configuration"): "configurations",
    ("serving.knative.dev/v1", "Route"): "routes",
    ("serving.knative.dev/v1", "Service"): "services",
    ("apps/v1", "Deployment"): "deployments",
    ("v1", "Service"): "services",
    ("v1", "Secret"): "secrets",
    ("v1", "PersistentVolumeClaim"): "persistentvolumeclaims",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "horizontalpodautoscalers",
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): "httproutes",
    ("tensorstack.dev/v1beta1", "MLService"): "mlservices",
    ("tensorstack.dev/v1beta1", "SimpleMLService"): "simplemlservices",
    ("tensorstack.dev/v1beta1", "MLServiceRuntime"): "mlserviceruntimes",
    ("serving.kserve.io/v1beta1", "InferenceService"): "inferenceservices",
}


@dataclass(frozen=True)
class ApiFailure(Exception):
    """The API refused or could not be reached; `status` 0 when no answer came."""

    status: int
    message: str

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.message}" if self.status else self.message


def object_path(obj: Mapping[str, Any], *, subresource: str = "") -> str:
    """`/api[s]/{apiVersion}/namespaces/{ns}/{plural}/{name}[/{subresource}]`."""
    api_version, kind = obj["apiVersion"], obj["kind"]
    plural = PLURALS.get((api_version, kind))
    if plural is None:
        raise ApiFailure(0, f"the operator does not write {kind} ({api_version})")
    meta = obj["metadata"]
    prefix = "/api" if "/" not in api_version else "/apis"
    scope = f"/namespaces/{meta['namespace']}" if meta.get("namespace") else ""
    tail = f"/{subresource}" if subresource else ""
    return f"{prefix}/{api_version}{scope}/{plural}/{meta['name']}{tail}"


class Api:
    """Blocking calls; kopf runs the operator's sync handlers in its thread pool."""

    def __init__(self, client: kubernetes.client.ApiClient | None = None) -> None:
        self._client = client or kubernetes.client.ApiClient()

    def apply(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Server-side apply `obj` (created when the server answers 404 instead)."""
        path = object_path(obj)
        query = {"fieldManager": FIELD_MANAGER, "force": "true"}
        try:
            return self._call(
                "PATCH", path, body=obj, content_type="application/apply-patch+yaml", query=query
            )
        except ApiFailure as failure:
            if failure.status != 404:
                raise
        collection = path.rsplit("/", 1)[0]
        return self._call("POST", collection, body=obj, content_type="application/json", query={})

    def get(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """The object as the API server holds it now."""
        return self._call(
            "GET", object_path(obj), body=None, content_type="application/json", query={}
        )

    def patch_status(self, obj: Mapping[str, Any], status: Mapping[str, Any]) -> None:
        """`status` is a JSON merge patch of the object's status."""
        path = object_path(obj, subresource="status")
        self._call(
            "PATCH",
            path,
            body={"status": status},
            content_type="application/merge-patch+json",
            query={},
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None,
        content_type: str,
        query: Mapping[str, str],
    ) -> dict[str, Any]:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        resource = f"{path}?{urlencode(query)}" if query else path
        _, url, headers, _, _ = self._client.param_serialize(
            method, resource, header_params=headers, auth_settings=["BearerToken"]
        )
        try:
            response = self._client.call_api(
                method,
                url,
                header_params=headers,
                body=None if body is None else dict(body),
                _request_timeout=TIMEOUT,
            )
            data: bytes = response.read()  # type: ignore[no-untyped-call]
        except kubernetes.client.ApiException as err:
            raise ApiFailure(err.status or 0, str(err.reason)) from err
        except (OSError, urllib3.exceptions.HTTPError) as err:  # no answer
            raise ApiFailure(0, str(err)) from err
        if response.status >= 400:
            raise ApiFailure(response.status, _message(data))
        return dict(json.loads(data)) if data else {}


def _message(data: bytes) -> str:
    """A Kubernetes `Status`'s message, or the body's first line."""
    try:
        return str(json.loads(data).get("message") or "")
    except (ValueError, AttributeError):
        return data.decode(errors="replace").splitlines()[0] if data else ""
