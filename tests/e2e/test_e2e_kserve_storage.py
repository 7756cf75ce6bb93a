"""KServe's ways of passing storage credentials, end to end against a moto S3 with IAM checks:
an S3 Secret annotated the KServe way attached through the predictor's `serviceAccountName`,
and a `storage.key` entry of the `storage-config` Secret. A missing one is named."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import yaml

from mlservice.cli.background import UpProcess
from tests.e2e.e2e_helpers import condition, wait_for
from tests.support.moto import Moto
from tests.support.up import apply, mls_on

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROW = [5.1, 3.5, 1.4, 0.2]


def manifests(*docs: dict[str, Any]) -> str:
    return yaml.safe_dump_all(docs)


def isvc(name: str, predictor: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name},
        "spec": {"predictor": predictor},
    }


def s3_secret(name: str, moto: Moto) -> dict[str, Any]:
    """The Secret of KServe's S3 docs, pointing at the moto server."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "annotations": {
                "serving.kserve.io/s3-endpoint": moto.endpoint.removeprefix("http://"),
                "serving.kserve.io/s3-usehttps": "0",
                "serving.kserve.io/s3-region": "us-east-1",
            },
        },
        "type": "Opaque",
        "stringData": {
            "AWS_ACCESS_KEY_ID": moto.access_key,
            "AWS_SECRET_ACCESS_KEY": moto.secret_key,
        },
    }


def account(name: str, *secrets: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name},
        "secrets": [{"name": s} for s in secrets],
    }


def ready_condition(obj: dict[str, Any]) -> dict[str, Any]:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Ready"), {})


def ready(obj: dict[str, Any]) -> bool:
    return ready_condition(obj).get("status") == "True"


def download_failed(obj: dict[str, Any]) -> bool:
    return ready_condition(obj).get("reason") == "ModelDownloadFailed"


def predicts(up: UpProcess, name: str, namespace: str) -> list[Any]:
    gateway = json.loads(up.home.endpoints.read_text())["gateway"]
    answer = httpx.post(
        f"{gateway}/v1/models/{name}:predict",
        json={"instances": [ROW]},
        headers={"Host": f"{name}.{namespace}.localhost"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["predictions"])


def test_service_account_and_storage_key_credentials_serve_and_missing_ones_are_named(
    up: UpProcess, namespace: str, moto: Moto, iris_model: bytes
) -> None:
    moto.client().put_object(Bucket="models", Key=f"{namespace}/iris/model.joblib", Body=iris_model)
    uri = f"s3://models/{namespace}/iris"

    # 1. serviceAccountName -> the ServiceAccount's KServe-annotated S3 Secret.
    apply(
        up,
        manifests(
            s3_secret("s3creds", moto),
            account("models", "s3creds"),
            isvc("by-sa", {"serviceAccountName": "models", "sklearn": {"storageUri": uri}}),
        ),
        namespace,
    )
    wait_for(up, "by-sa", namespace, ready, kind="isvc", timeout=90)
    assert predicts(up, "by-sa", namespace) == [0]

    # 2. storage.key -> an entry of the storage-config Secret; the URI is s3://{bucket}/{path}.
    entry = {
        "type": "s3",
        "access_key_id": moto.access_key,
        "secret_access_key": moto.secret_key,
        "endpoint_url": moto.endpoint,
        "bucket": "models",
        "region": "us-east-1",
    }
    storage_config = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "storage-config"},
        "stringData": {"localS3": json.dumps(entry)},
    }
    keyed = {
        "model": {
            "modelFormat": {"name": "sklearn"},
            "storage": {"key": "localS3", "path": f"{namespace}/iris"},
        }
    }
    apply(up, manifests(storage_config, isvc("by-key", keyed)), namespace)
    wait_for(up, "by-key", namespace, ready, kind="isvc", timeout=90)
    assert predicts(up, "by-key", namespace) == [0]

    # 3. A ServiceAccount that does not exist is named in the condition, and so is a missing
    # Secret it lists; creating the Secret lets the service start without touching it.
    apply(
        up,
        manifests(
            isvc("no-sa", {"serviceAccountName": "ghost", "sklearn": {"storageUri": uri}}),
            account("partial", "later"),
            isvc("no-secret", {"serviceAccountName": "partial", "sklearn": {"storageUri": uri}}),
        ),
        namespace,
    )
    no_sa = condition(wait_for(up, "no-sa", namespace, download_failed, kind="isvc", timeout=60))
    assert f"ServiceAccount {namespace}/ghost" in no_sa["message"]
    no_secret = condition(
        wait_for(up, "no-secret", namespace, download_failed, kind="isvc", timeout=60)
    )
    assert f"Secret {namespace}/later (listed by ServiceAccount" in no_secret["message"]
    apply(up, manifests(s3_secret("later", moto)), namespace)
    wait_for(up, "no-secret", namespace, ready, kind="isvc", timeout=90)

    outputs = [
        mls_on(up, "get", "isvc", "-n", namespace, "-o", "yaml").stdout,
        mls_on(up, "describe", "isvc", "no-sa", "-n", namespace).stdout,
        mls_on(up, "get", "sa", "-n", namespace, "-o", "yaml").stdout,
    ]
    for text in outputs:
        assert moto.secret_key not in text
