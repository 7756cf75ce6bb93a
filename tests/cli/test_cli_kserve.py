"""`mls apply | get | describe | wait | delete` on KServe's kinds against a real `mls up`
(the API alone: the tests write the status a controller would)."""

from __future__ import annotations

import json

import pytest
import yaml

from mlservice.cli.background import UpProcess
from tests.cli.test_cli_kserve_output import ROLLING
from tests.resources.kserve_manifests import isvc, runtime

pytestmark = pytest.mark.e2e


def manifests(cluster_runtime: str) -> str:
    return yaml.safe_dump_all(
        [
            isvc(),
            runtime("ServingRuntime", name="my-sklearn"),
            runtime("ClusterServingRuntime", name=cluster_runtime),
        ]
    )


def test_kserve_kinds_apply_get_describe_wait_delete(
    mls, mls_up: UpProcess, namespace: str
) -> None:
    csr = f"csr-{namespace}"[:63]
    text = manifests(csr)
    first = mls("apply", "-f", "-", "-n", namespace, stdin=text)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "inferenceservice/sklearn-iris created",
        "servingruntime/my-sklearn created",
        f"clusterservingruntime/{csr} created",
    ]
    # The shortcut is stored as `model` and the runtime has no namespace: neither is a change.
    again = mls("apply", "-f", "-", "-n", namespace, stdin=text)
    assert [line.split()[-1] for line in again.stdout.splitlines()] == ["unchanged"] * 3

    pending = mls("get", "isvc", "-n", namespace)
    assert pending.stdout.split("\n")[0].split() == [
        "NAME",
        "URL",
        "READY",
        "PREV",
        "LATEST",
        "AGE",
    ]
    assert pending.stdout.split("\n")[1].split()[0] == "sklearn-iris"

    with mls_up.client() as client:
        client.patch(
            "isvc", "sklearn-iris", {"status": ROLLING["status"]}, namespace=namespace, status=True
        )
    shown = mls("get", "inferenceservices", "-n", namespace).stdout.splitlines()
    assert shown[1].split()[:5] == [
        "sklearn-iris",
        "http://sklearn-iris.team.localhost:8080",
        "True",
        "90",
        "10",
    ]
    everywhere = mls("get", "isvc", "-A").stdout.splitlines()
    assert everywhere[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert [namespace, "sklearn-iris"] in [line.split()[:2] for line in everywhere[1:]]

    # A cluster-scoped kind ignores -n, and shows no NAMESPACE column even with -A.
    runtimes = mls("get", "clusterservingruntime", "-n", "elsewhere").stdout.splitlines()
    assert runtimes[0].split() == ["NAME", "DISABLED", "MODELTYPE", "CONTAINERS", "AGE"]
    assert [csr, "sklearn", "kserve-container"] in [line.split()[:3] for line in runtimes[1:]]
    assert mls("get", "clusterservingruntimes", "-A").stdout.splitlines()[0].split()[0] == "NAME"
    one = json.loads(mls("get", "clusterservingruntime", csr, "-o", "json").stdout)
    assert "namespace" not in one["metadata"]
    assert mls("get", "servingruntime", "-n", namespace).stdout.splitlines()[1].split()[:3] == [
        "my-sklearn",
        "sklearn",
        "kserve-container",
    ]

    described = mls("describe", "isvc", "sklearn-iris", "-n", namespace)
    assert described.returncode == 0, described.stderr
    assert "      sklearn-iris-predictor-00001  90%  tag=prev" in described.stdout.splitlines()
    assert "  type=Ready  status=True" in described.stdout

    waited = mls("wait", "isvc", "sklearn-iris", "--for", "condition=Ready", "-n", namespace)
    assert waited.stdout == "inferenceservice/sklearn-iris condition met\n"

    deleted = mls("delete", "clusterservingruntime", csr, "-n", "elsewhere")
    assert deleted.stdout == f"clusterservingruntime/{csr} deleted\n"
    rest = mls("delete", "-f", "-", "-n", namespace, stdin=text)
    assert rest.stdout.splitlines() == [
        "inferenceservice/sklearn-iris deleted",
        "servingruntime/my-sklearn deleted",
    ]
    assert rest.stderr == f"error: ClusterServingRuntime {csr} not found.\n"
    missing = mls("get", "servingruntime", "-n", namespace)
    assert missing.stderr == f"No resources found in {namespace} namespace.\n"


def test_an_invalid_inference_service_prints_the_hint(mls, namespace: str) -> None:
    bad = yaml.safe_dump(isvc(sklearn={"storageUri": "pvc://m/"}, minReplica=0))
    applied = mls("apply", "-f", "-", "-n", namespace, stdin=bad)
    assert applied.returncode == 1
    assert applied.stderr == (
        'error: spec.predictor.minReplica: unknown field "minReplica", '
        'did you mean "minReplicas"?\n'
    )
