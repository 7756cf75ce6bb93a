"""`mls apply | get | describe | delete | wait` against a real `mls up`."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import yaml

from mlservice.cli.background import UpProcess
from tests.support.paths import EXAMPLES

pytestmark = pytest.mark.e2e

MANIFESTS = """
apiVersion: tensorstack.dev/v1beta1
kind: MLService
metadata:
  name: torch-mnist
spec:
  default: version1
  canary: version2
  canaryTrafficPercent: 20
  releases:
    - name: version1
      predictor:
        model:
          runtime: torchserve
          modelUri: pvc://tutorial/mnist/
    - name: version2
      predictor:
        model:
          runtime: torchserve
          modelUri: pvc://tutorial/mnist-v2/
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  token: hunter2-do-not-print
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: tutorial
spec:
  resources:
    requests:
      storage: 1Gi
"""


def test_apply_creates_then_reports_unchanged_and_configured(
    mls, namespace: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "all.yaml"
    manifest.write_text(MANIFESTS)
    first = mls("apply", "-f", str(manifest), "-n", namespace)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "mlservice/torch-mnist created",
        "secret/creds created",
        "persistentvolumeclaim/tutorial created",
    ]
    again = mls("apply", "-f", "-", "-n", namespace, stdin=MANIFESTS)
    assert again.stdout.splitlines() == [
        "mlservice/torch-mnist unchanged",
        "secret/creds unchanged",
        "persistentvolumeclaim/tutorial unchanged",
    ]
    changed = MANIFESTS.replace("canaryTrafficPercent: 20", "canaryTrafficPercent: 50")
    third = mls("apply", "-f", "-", "-n", namespace, stdin=changed)
    assert third.stdout.splitlines()[0] == "mlservice/torch-mnist configured"


def test_every_example_manifest_applies(mls, namespace: str) -> None:
    folders = ["volumes", "secrets", "runtimes", "mlservice", "simplemlservice", "kserve"]
    args = [arg for folder in folders for arg in ("-f", str(EXAMPLES / folder))]
    applied = mls("apply", *args, "-n", namespace)
    assert applied.returncode == 0, applied.stderr
    lines = applied.stdout.splitlines()
    documents = sum(
        1
        for path in EXAMPLES.glob("**/*.yaml")  # `mls apply -f DIR` reads folders recursively
        for doc in yaml.safe_load_all(path.read_text())
        if doc and path.relative_to(EXAMPLES).parts[0] in folders
    )
    assert {p.relative_to(EXAMPLES).parts[0] for p in EXAMPLES.glob("*/**/*.yaml")} <= {
        *folders,
        "demo.yaml",
    }  # every folder of manifests is applied here
    assert len(lines) == documents
    assert all(line.split()[-1] in ("created", "configured", "unchanged") for line in lines)


def test_invalid_documents_print_one_line_per_cause(mls, namespace: str) -> None:
    bad = """
apiVersion: tensorstack.dev/v1beta1
kind: MLService
metadata: {name: badly-named}
spec:
  default: Version1
  releases:
    - name: Version1
      predictor: {model: {runtime: torchserve}}
---
apiVersion: tensorstack.dev/v1beta1
kind: MLService
metadata: {name: bad-default}
spec:
  default: nope
  releases:
    - name: version1
      predictor: {model: {runtime: torchserve}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: fine}
spec: {}
"""
    applied = mls("apply", "-f", "-", "-n", namespace, stdin=bad)
    assert applied.returncode == 1
    errors = applied.stderr.splitlines()
    assert errors[0].startswith('error: spec.releases[0].name: "Version1" is not a DNS-1123 label')
    assert errors[1] == 'error: spec.default: "nope" is not a release ("version1")'
    assert len(errors) == 2
    assert applied.stdout == "persistentvolumeclaim/fine created\n"


def test_an_unknown_kind_is_named_with_its_file(mls, namespace: str, tmp_path: Path) -> None:
    manifest = tmp_path / "typo.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: NoSuchKind\nmetadata: {name: x}\n---\n"
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: kept}\nspec: {}\n"
    )
    kinds = (
        "MLService, SimpleMLService, MLServiceRuntime, Secret, PersistentVolumeClaim, "
        "ServiceAccount, Event, InferenceService, ServingRuntime, ClusterServingRuntime, "
        "TrainedModel"
    )
    applied = mls("apply", "-f", str(manifest), "-n", namespace)
    assert applied.returncode == 1
    assert applied.stderr == f'error: kind "NoSuchKind" in {manifest} is not one of {kinds}.\n'
    assert applied.stdout == "persistentvolumeclaim/kept created\n"  # the others still apply
    piped = mls("apply", "-f", "-", "-n", namespace, stdin=manifest.read_text())
    assert piped.stderr == f'error: kind "NoSuchKind" in <stdin> is not one of {kinds}.\n'
    kindless = mls("apply", "-f", "-", "-n", namespace, stdin="metadata: {name: x}\n")
    assert kindless.stderr == f"error: <stdin> (document 1) has no kind; give one of {kinds}.\n"


def test_get_tables_and_formats(mls, namespace: str) -> None:
    mls("apply", "-f", "-", "-n", namespace, stdin=MANIFESTS)
    table = mls("get", "mlsvc", "-n", namespace)
    header, row = table.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "URL", "DEFAULT", "CANARY", "AGE"]
    assert row.split()[:4] == ["torch-mnist", "version1", "version2", "(20%)"]
    wide = mls("get", "mlservices", "-n", namespace, "-o", "wide").stdout
    assert "GENERATION" in wide.splitlines()[0]
    everywhere = mls("get", "MLService", "-A").stdout.splitlines()
    assert everywhere[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert any(line.split()[:2] == [namespace, "torch-mnist"] for line in everywhere)
    one = json.loads(mls("get", "mlservice", "torch-mnist", "-n", namespace, "-o", "json").stdout)
    assert one["spec"]["canaryTrafficPercent"] == 20
    listed = yaml.safe_load(mls("get", "pvc", "-n", namespace, "-o", "yaml").stdout)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["tutorial"]
    assert mls("get", "secret", "-n", namespace).stdout.split()[:7] == [
        "NAME",
        "TYPE",
        "DATA",
        "AGE",
        "creds",
        "Opaque",
        "1",
    ]
    empty = mls("get", "runtime", "-n", namespace)
    assert (empty.returncode, empty.stderr.strip()) == (
        0,
        f"No resources found in {namespace} namespace.",
    )


def test_get_errors_are_one_line_and_exit_1(mls, namespace: str) -> None:
    missing = mls("get", "mlsvc", "ghost", "-n", namespace)
    assert (missing.returncode, missing.stderr) == (
        1,
        f"error: MLService {namespace}/ghost not found.\n",
    )
    unknown = mls("get", "widgets")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error: Unknown kind 'widgets'")
    down = mls("get", "mlsvc", extra_env={"MLS_API": "http://127.0.0.1:9"})
    assert down.returncode == 1
    assert down.stderr.startswith("error: Cannot reach http://127.0.0.1:9")
    no_token = mls("get", "mlsvc", extra_env={"MLS_TOKEN": "wrong"})
    assert no_token.returncode == 1
    assert "lack of a valid token" in no_token.stderr


def test_describe_shows_spec_but_not_secret_values(mls, namespace: str) -> None:
    mls("apply", "-f", "-", "-n", namespace, stdin=MANIFESTS)
    described = mls("describe", "mlsvc", "torch-mnist", "-n", namespace).stdout
    assert f"Namespace:    {namespace}" in described
    assert "canaryTrafficPercent: 20" in described
    secret = mls("describe", "secret", "creds", "-n", namespace).stdout
    assert "token:  20 bytes" in secret
    assert "hunter2" not in secret


def test_delete_by_name_and_by_file(mls, namespace: str, tmp_path: Path) -> None:
    manifest = tmp_path / "all.yaml"
    manifest.write_text(MANIFESTS)
    mls("apply", "-f", str(manifest), "-n", namespace)
    by_name = mls("delete", "mlsvc", "torch-mnist", "-n", namespace)
    assert by_name.stdout == "mlservice/torch-mnist deleted\n"
    by_file = mls("delete", "-f", str(manifest), "-n", namespace)
    assert by_file.returncode == 1  # the MLService is already gone
    assert by_file.stdout.splitlines() == [
        "secret/creds deleted",
        "persistentvolumeclaim/tutorial deleted",
    ]
    assert by_file.stderr == f"error: MLService {namespace}/torch-mnist not found.\n"


def test_wait_returns_when_ready_and_times_out_otherwise(
    mls, mls_up: UpProcess, namespace: str
) -> None:
    mls("apply", "-f", "-", "-n", namespace, stdin=MANIFESTS)
    timed_out = mls("wait", "mlsvc", "torch-mnist", "-n", namespace, "--timeout", "0.5")
    assert timed_out.returncode == 1
    assert "was not Ready within 0.5s (no Ready condition yet)" in timed_out.stderr

    def become_ready() -> None:
        time.sleep(0.5)  # let `mls wait` start watching first; it passes either way
        ready = {"conditions": [{"type": "Ready", "status": "True"}], "ready": True}
        with mls_up.client(namespace=namespace) as client:
            client.patch("mlsvc", "torch-mnist", {"status": ready}, status=True)

    writer = threading.Thread(target=become_ready)
    writer.start()
    waited = mls("wait", "mlsvc", "torch-mnist", "-n", namespace, "--for", "condition=Ready")
    writer.join(timeout=30)
    assert waited.stdout == "mlservice/torch-mnist condition met\n"
    bad_for = mls("wait", "mlsvc", "torch-mnist", "--for", "delete")
    assert bad_for.stderr.startswith("error: --for 'delete' is not supported")


def test_get_sa_lists_service_accounts(mls, namespace: str, tmp_path: Path) -> None:
    manifest = tmp_path / "sa.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: models}\n"
        "secrets: [{name: s3creds}, {name: other}]\n"
    )
    assert mls("apply", "-f", str(manifest), "-n", namespace).stdout == (
        "serviceaccount/models created\n"
    )
    listed = mls("get", "sa", "-n", namespace).stdout.splitlines()
    assert listed[0].split() == ["NAME", "SECRETS", "AGE"]
    assert listed[1].split()[:2] == ["models", "2"]
