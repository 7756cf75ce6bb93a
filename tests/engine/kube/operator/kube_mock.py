"""kmock's Kubernetes emulator on a loopback port, and `mls operator` running against it.

The emulator runs in its own thread's event loop (the dev env has no pytest-asyncio, and a
sync test then reads and writes objects over HTTP as any client would). It is told which
resources exist, as discovery on a cluster tells kopf: namespaces and events, our CRDs with
their status subresource, KServe's kinds, and the kinds the operator writes (Knative Serving,
apps/v1, autoscaling/v2, Gateway API) or reads (Knative's Revisions). kmock stores objects as
sent: no uid, resourceVersion, generation or defaults, no garbage collector; a PATCH merges
into the stored object.

The operator is the real `mls operator` in a child process with a kubeconfig naming the
emulator's URL: the command line, the credentials loading and kopf's own startup are what a
cluster sees.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import kmock
import yaml

from tests.support.cli import user_env
from tests.support.polling import wait_until

STATUS = frozenset({"status"})
# (group/version/plural, kind, namespaced, subresources)
RESOURCES: tuple[tuple[str, str, bool, frozenset[str]], ...] = (
    ("v1/namespaces", "Namespace", False, STATUS),
    ("v1/events", "Event", True, frozenset()),
    ("v1/services", "Service", True, STATUS),
    ("v1/secrets", "Secret", True, frozenset()),
    ("v1/persistentvolumeclaims", "PersistentVolumeClaim", True, STATUS),
    ("events.k8s.io/v1/events", "Event", True, frozenset()),
    ("tensorstack.dev/v1beta1/mlservices", "MLService", True, STATUS),
    ("tensorstack.dev/v1beta1/simplemlservices", "SimpleMLService", True, STATUS),
    ("tensorstack.dev/v1beta1/mlserviceruntimes", "MLServiceRuntime", True, STATUS),
    ("serving.knative.dev/v1/configurations", "Configuration", True, STATUS),
    ("serving.knative.dev/v1/routes", "Route", True, STATUS),
    ("serving.knative.dev/v1/services", "Service", True, STATUS),
    ("serving.knative.dev/v1/revisions", "Revision", True, STATUS),
    ("apps/v1/deployments", "Deployment", True, STATUS),
    ("autoscaling/v2/horizontalpodautoscalers", "HorizontalPodAutoscaler", True, STATUS),
    ("gateway.networking.k8s.io/v1/httproutes", "HTTPRoute", True, STATUS),
    ("serving.kserve.io/v1beta1/inferenceservices", "InferenceService", True, STATUS),
    ("serving.kserve.io/v1alpha1/servingruntimes", "ServingRuntime", True, frozenset()),
    (
        "serving.kserve.io/v1alpha1/clusterservingruntimes",
        "ClusterServingRuntime",
        False,
        frozenset(),
    ),
)
VERBS = frozenset({"create", "delete", "get", "list", "patch", "update", "watch"})
START_TIMEOUT = 20.0


def path(api_version: str, plural: str, namespace: str | None, name: str = "") -> str:
    prefix = "/api" if "/" not in api_version else "/apis"
    scope = f"/namespaces/{namespace}" if namespace else ""
    return f"{prefix}/{api_version}{scope}/{plural}" + (f"/{name}" if name else "")


class KubeMock:
    """The emulator, started on enter and stopped on exit; `url` is its base URL."""

    def __init__(self) -> None:
        self.url = ""
        self.handler: kmock.KubernetesEmulator | None = None
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="kmock", daemon=True)
        self._client: httpx.Client | None = None

    def __enter__(self) -> KubeMock:
        self._thread.start()
        self._ready.wait(START_TIMEOUT)
        if not self.url:
            raise RuntimeError(f"kmock did not start: {self._failed!r}")
        self._client = httpx.Client(base_url=self.url, timeout=10)
        return self

    def __exit__(self, *_: object) -> None:
        if self._client is not None:
            self._client.close()
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as err:  # reported by __enter__ when it never started
            self._failed = err
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with kmock.KubernetesEmulator() as handler, kmock.Server(handler) as server:
            for key, kind, namespaced, subresources in RESOURCES:
                handler.resources[key] = kmock.ResourceInfo(
                    kind=kind, namespaced=namespaced, verbs=VERBS, subresources=subresources
                )
            self.handler = handler
            self.url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()

    # -- a client's view ----------------------------------------------------------------

    @property
    def client(self) -> httpx.Client:
        assert self._client is not None, "KubeMock used outside its `with`"
        return self._client

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        plural = _plural(obj)
        response = self.client.post(
            path(obj["apiVersion"], plural, meta.get("namespace")), json=obj
        )
        response.raise_for_status()
        return dict(response.json())

    def get(
        self, api_version: str, plural: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        response = self.client.get(path(api_version, plural, namespace, name))
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return dict(response.json())

    def list(self, api_version: str, plural: str, namespace: str | None) -> list[dict[str, Any]]:
        response = self.client.get(path(api_version, plural, namespace))
        response.raise_for_status()
        return list(response.json()["items"])

    def patch(
        self, obj: Mapping[str, Any], patch: Mapping[str, Any], *, status: bool = False
    ) -> None:
        meta = obj["metadata"]
        where = path(obj["apiVersion"], _plural(obj), meta.get("namespace"), meta["name"])
        headers = {"Content-Type": "application/merge-patch+json"}
        response = self.client.patch(
            where + ("/status" if status else ""), json=patch, headers=headers
        )
        response.raise_for_status()

    def delete(self, api_version: str, plural: str, namespace: str | None, name: str) -> None:
        response = self.client.delete(path(api_version, plural, namespace, name))
        response.raise_for_status()

    def received(self) -> int:
        """How many requests the emulator has received so far."""
        return len(list(self.handler or ()))

    def watched(self, plural: str) -> bool:
        """Whether a client has opened a watch on `plural` (kopf has started on it)."""
        requests = list(self.handler or ())
        return any(
            r.action == kmock.action.WATCH
            and r.resource is not None
            and r.resource.plural == plural
            for r in requests
        )


def _plural(obj: Mapping[str, Any]) -> str:
    group_version = obj["apiVersion"]
    for key, kind, _, _ in RESOURCES:
        if kind == obj["kind"] and key.rsplit("/", 1)[0] == group_version:
            return key.rsplit("/", 1)[1]
    raise KeyError(f"{obj['kind']} ({group_version}) is not declared in the emulator")


def write_kubeconfig(folder: Path, url: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kmock", "cluster": {"server": url}}],
        "users": [{"name": "kmock", "user": {"token": "kmock"}}],
        "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "kmock"}}],
        "current-context": "kmock",
    }
    where = folder / "kubeconfig"
    where.write_text(yaml.safe_dump(config))
    return where


@contextmanager
def operator(kube: KubeMock, folder: Path, *args: str) -> Iterator[Path]:
    """`mls operator ARGS` against the emulator until the block ends; yields its log file.
    Ready once kopf watches MLServices (its handlers then see every event)."""
    log = folder / "operator.log"
    env = user_env(KUBECONFIG=str(write_kubeconfig(folder, kube.url)))
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlservice", "operator", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            wait_until(
                lambda: kube.watched("mlservices") or proc.poll() is not None,
                timeout=START_TIMEOUT,
                interval=0.1,
                message=lambda: f"the operator to watch mlservices; its log:\n{log.read_text()}",
            )
            assert proc.poll() is None, f"the operator exited:\n{log.read_text()}"
            yield log
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
