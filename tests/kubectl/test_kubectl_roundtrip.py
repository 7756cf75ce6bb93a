"""The issue's acceptance list, per kind, with the stock kubectl against one real
`mls up --api-only`: `get -o yaml|json` round-trips through `apply -f`, `get -w` prints a
change, `describe` shows the fields and the events, `patch --type merge`, `edit`, `delete -f`,
and kubectl fails without the token or with a wrong one."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mlservice.cli.background import UpProcess
from mlservice.resources.kinds import KindInfo, by_kind
from tests.kubectl.driver import editor, kubectl
from tests.support.kubectl import kubectl_path, needs_kubectl
from tests.support.up import API_ONLY_ARGS, namespace_name, up_process

pytestmark = needs_kubectl()
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@dataclass(frozen=True)
class Case:
    """One kind: a manifest, the word kubectl takes for it, and a spec value describe shows."""

    resource: str
    manifest: dict[str, Any]
    shown: str

    @property
    def kind(self) -> KindInfo:
        found = by_kind(self.manifest["kind"])
        assert found is not None
        return found

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])


def _manifest(api_version: str, kind: str, name: str, **body: Any) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, **body}


CASES = (
    Case(
        "mlsvc",
        _manifest(
            "tensorstack.dev/v1beta1",
            "MLService",
            "rt-mlsvc",
            spec={
                "default": "v1",
                "releases": [
                    {
                        "name": "v1",
                        "predictor": {
                            "model": {"modelFormat": {"name": "sklearn"}, "modelUri": "pvc://m/"}
                        },
                    }
                ],
            },
        ),
        "pvc://m/",
    ),
    Case(
        "smlsvc",
        _manifest(
            "tensorstack.dev/v1beta1",
            "SimpleMLService",
            "rt-smlsvc",
            spec={
                "replicas": 1,
                "storage": {"pvc": {"name": "models", "subPath": "mnist"}},
                "pytorch": {"image": "pytorch/torchserve:0.12.0", "modelsFlag": "mnist=mnist.mar"},
            },
        ),
        "pytorch/torchserve:0.12.0",
    ),
    Case(
        "isvc",
        _manifest(
            "serving.kserve.io/v1beta1",
            "InferenceService",
            "rt-isvc",
            spec={"predictor": {"sklearn": {"storageUri": "pvc://iris/model"}}},
        ),
        "pvc://iris/model",
    ),
    Case(
        "servingruntime",
        _manifest(
            "serving.kserve.io/v1alpha1",
            "ServingRuntime",
            "rt-runtime",
            spec={
                "supportedModelFormats": [{"name": "sklearn", "version": "1", "autoSelect": False}],
                "containers": [{"name": "kserve-container", "image": "kserve/sklearnserver:v1"}],
            },
        ),
        "kserve/sklearnserver:v1",
    ),
    Case(
        "secret",
        _manifest("v1", "Secret", "rt-secret", type="Opaque", stringData={"token": "s3cr3t"}),
        "token:",
    ),
)
IDS = [case.resource for case in CASES]


@pytest.fixture(scope="module")
def mls_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    with up_process(tmp_path_factory.mktemp("home"), args=API_ONLY_ARGS) as up:
        yield up


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One discovery cache for the module: the server does not change under it."""
    return tmp_path_factory.mktemp("kube-cache")


@pytest.fixture
def api(mls_up: UpProcess) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {mls_up.token}"}
    with httpx.Client(base_url=mls_up.api, headers=headers, timeout=30) as client:
        yield client


@dataclass(frozen=True)
class Kubectl:
    """kubectl bound to the server, one namespace and the module's cache."""

    up: UpProcess
    namespace: str
    cache: Path

    def __call__(
        self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return kubectl(
            self.up.home.kubeconfig,
            *args,
            "-n",
            self.namespace,
            cache=self.cache,
            stdin=stdin,
            env=env,
        )

    def ok(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
        done = self(*args, stdin=stdin, env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture
def run(mls_up: UpProcess, cache: Path, request: pytest.FixtureRequest) -> Kubectl:
    return Kubectl(mls_up, namespace_name(request, limit=40), cache)


def created(run: Kubectl, case: Case) -> None:
    out = run.ok("apply", "-f", "-", stdin=yaml.safe_dump(case.manifest))
    assert f"{case.name} created" in out


def read(api: httpx.Client, run: Kubectl, case: Case) -> dict[str, Any]:
    """The object as the API holds it (read past kubectl, to check what kubectl did)."""
    kind = case.kind
    base = f"/apis/{kind.api_version}" if kind.group else f"/api/{kind.version}"
    answer = api.get(f"{base}/namespaces/{run.namespace}/{kind.plural}/{case.name}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def unmanaged(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` without the metadata kubectl and the server change on every write."""
    copied = json.loads(json.dumps(obj))
    metadata = copied["metadata"]
    metadata.pop("resourceVersion", None)
    metadata.pop("managedFields", None)
    annotations = metadata.get("annotations") or {}
    annotations.pop(LAST_APPLIED, None)
    if not annotations:
        metadata.pop("annotations", None)
    return copied


def post_event(api: httpx.Client, run: Kubectl, case: Case, obj: dict[str, Any]) -> None:
    """An Event about `obj`, as a controller records one (none run under --api-only)."""
    kind = case.kind
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{case.name}.1", "namespace": run.namespace},
        "involvedObject": {
            "apiVersion": kind.api_version,
            "kind": kind.kind,
            "name": case.name,
            "namespace": run.namespace,
            "uid": obj["metadata"]["uid"],
        },
        "reason": "RoundTripChecked",
        "message": "an event about this object",
        "type": "Normal",
        "count": 1,
        "source": {"component": "tests"},
    }
    posted = api.post(f"/api/v1/namespaces/{run.namespace}/events", json=event)
    assert posted.status_code == 201, posted.text


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_apply_round_trip_describe_patch_edit_delete(
    case: Case, run: Kubectl, api: httpx.Client, tmp_path: Path
) -> None:
    created(run, case)
    before = read(api, run, case)
    for output in ("yaml", "json"):  # what `get -o` prints goes back through `apply -f`
        exported = tmp_path / f"exported.{output}"
        exported.write_text(run.ok("get", case.resource, case.name, "-o", output))
        assert case.name in run.ok("apply", "-f", str(exported))
        assert unmanaged(read(api, run, case)) == unmanaged(before)

    post_event(api, run, case, before)
    described = run.ok("describe", case.resource, case.name)
    assert f"Name:         {case.name}" in described
    assert case.shown in described
    if case.kind.group:  # kubectl's describer of a Secret lists no events, as on a cluster
        assert "Normal  RoundTripChecked" in described
        assert "an event about this object" in described

    target = (case.resource, case.name)
    patch = json.dumps({"metadata": {"labels": {"patched": "merge"}}})
    assert "patched" in run.ok("patch", *target, "--type", "merge", "-p", patch)
    assert read(api, run, case)["metadata"]["labels"] == {"patched": "merge"}
    edited = run.ok("edit", *target, env=editor(tmp_path, "s/patched: merge/patched: edit/"))
    assert f"{case.name} edited" in edited
    assert read(api, run, case)["metadata"]["labels"] == {"patched": "edit"}

    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(yaml.safe_dump(case.manifest))
    assert f'"{case.name}" deleted' in run.ok("delete", "-f", str(manifest))
    missing = run("get", *target)
    assert missing.returncode != 0
    assert "NotFound" in missing.stderr


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_watch_prints_a_change(case: Case, run: Kubectl) -> None:
    created(run, case)
    command = [
        kubectl_path(),
        "--kubeconfig",
        str(run.up.home.kubeconfig),
        "--cache-dir",
        str(run.cache),
        "get",
        case.resource,
        case.name,
        "-n",
        run.namespace,
        "-w",
        "--output-watch-events",
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as w:
        try:
            assert w.stdout is not None
            assert w.stdout.readline().split()[0] == "EVENT"
            assert w.stdout.readline().split()[:2] == ["ADDED", case.name]
            run.ok("label", case.resource, case.name, "watched=yes")
            assert w.stdout.readline().split()[:2] == ["MODIFIED", case.name]
        finally:
            w.terminate()


def test_strategic_merge_is_for_core_kinds(run: Kubectl, api: httpx.Client) -> None:
    """kubectl patch's default type is strategic: a Secret takes it, a custom kind refuses it
    with Kubernetes' 415, and kubectl says so as against a cluster; server-side apply is not
    served at all."""
    secret, isvc = CASES[-1], CASES[2]
    created(run, secret)
    created(run, isvc)
    labels = json.dumps({"metadata": {"labels": {"a": "b"}}})
    run.ok("patch", secret.resource, secret.name, "-p", labels)
    assert read(api, run, secret)["metadata"]["labels"] == {"a": "b"}
    refused = run("patch", isvc.resource, isvc.name, "-p", labels)
    assert refused.returncode != 0
    assert (
        "application/strategic-merge-patch+json is not supported by "
        "serving.kserve.io/v1beta1, Kind=InferenceService: the body of the request was in an "
        "unknown format - accepted media types include: application/json-patch+json, "
        "application/merge-patch+json"
    ) in refused.stderr
    ops = json.dumps([{"op": "add", "path": "/metadata/labels", "value": {"c": "d"}}])
    run.ok("patch", isvc.resource, isvc.name, "--type", "json", "-p", ops)
    assert read(api, run, isvc)["metadata"]["labels"] == {"c": "d"}
    server_side = run("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(isvc.manifest))
    assert "Server-side apply not available on the server" in server_side.stderr


@pytest.mark.parametrize("token", [None, "wrong"], ids=["no-token", "wrong-token"])
def test_kubectl_fails_without_the_token(token: str | None, run: Kubectl, tmp_path: Path) -> None:
    document = yaml.safe_load(run.up.home.kubeconfig.read_text())
    for user in document["users"]:
        if token is None:
            del user["user"]["token"]
        else:
            user["user"]["token"] = token
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump(document))
    every_kind = ",".join(IDS)
    done = kubectl(
        config, "get", every_kind, "-n", run.namespace, cache=tmp_path / "cache", stdin=""
    )
    assert done.returncode != 0
    if token is None:  # kubectl's answer to a 401 when it has nothing to send: ask for a login
        assert "Please enter Username" in done.stdout
    else:
        assert "provide credentials" in done.stderr
