"""KServe's storage credentials resolved as its credential builder and storage-initializer do:
the predictor's ServiceAccount's S3 Secrets (annotations say the endpoint), and `storage.key`
entries of the `storage-config` Secret. Errors name the object, never a value."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlservice.engine import DEFAULT_MOUNT_PATH, ModelSource, StorageKey, spec_hash
from mlservice.engine.local.credentials import model_location
from mlservice.errors import NotFound, StorageError
from mlservice.resources import Secret, ServiceAccount, parse_as, validate_object
from mlservice.storage import S3Config

NS = "team"
KEY_ID, SECRET_KEY = "AKIDEXAMPLE", "wJalrXUtnFEMI-very-secret"


def _obj(kind: str, name: str, **fields: Any) -> dict[str, Any]:
    meta = {"name": name, "namespace": NS, **fields.pop("metadata", {})}
    return {"apiVersion": "v1", "kind": kind, "metadata": meta, **fields}


def s3_secret(name: str, annotations: dict[str, str] | None = None, **data: str) -> Secret:
    values = data or {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    manifest = _obj("Secret", name, metadata={"annotations": annotations or {}}, stringData=values)
    return parse_as(Secret, validate_object(manifest))


def account(name: str, *secrets: str) -> ServiceAccount:
    manifest = _obj("ServiceAccount", name, secrets=[{"name": s} for s in secrets])
    return parse_as(ServiceAccount, validate_object(manifest))


class Cluster:
    def __init__(self, *objects: Secret | ServiceAccount) -> None:
        self.secrets = {o.name: o for o in objects if isinstance(o, Secret)}
        self.accounts = {o.name: o for o in objects if isinstance(o, ServiceAccount)}

    def secret(self, namespace: str, name: str) -> Secret:
        if namespace == NS and name in self.secrets:
            return self.secrets[name]
        raise NotFound(name)

    def account(self, namespace: str, name: str) -> ServiceAccount:
        if namespace == NS and name in self.accounts:
            return self.accounts[name]
        raise NotFound(name)

    def locate(self, source: ModelSource) -> tuple[str, S3Config | None]:
        return model_location(source, namespace=NS, secrets=self.secret, accounts=self.account)


MINIO = {
    "serving.kserve.io/s3-endpoint": "minio.kubeflow:9000",
    "serving.kserve.io/s3-usehttps": "0",
    "serving.kserve.io/s3-region": "eu-west-3",
    "serving.kserve.io/s3-verifyssl": "0",
}


def test_the_service_accounts_s3_secret_gives_endpoint_region_and_keys() -> None:
    cluster = Cluster(
        account("models", "token", "s3creds"),
        s3_secret("token", token="not-s3"),
        s3_secret("s3creds", MINIO),
    )
    uri, config = cluster.locate(ModelSource("s3://b/m", service_account="models"))
    assert uri == "s3://b/m"
    assert config is not None
    assert config.endpoint_url == "http://minio.kubeflow:9000"
    assert (config.region, config.addressing_style, config.verify_ssl) == (
        "eu-west-3",
        "path",
        False,
    )
    assert config.secrets == (KEY_ID, SECRET_KEY)
    assert SECRET_KEY not in repr(config)


def test_https_is_the_default_and_the_last_s3_secret_wins() -> None:
    first = s3_secret("first", {"serving.kserve.io/s3-endpoint": "one.example:9000"})
    last = s3_secret(
        "last",
        {
            "serving.kserve.io/s3-endpoint": "two.example",
            "serving.kserve.io/s3-useanoncredential": "true",
        },
    )
    cluster = Cluster(account("sa", "first", "last"), first, last)
    _, config = cluster.locate(ModelSource("s3://b/m", service_account="sa"))
    assert config is not None
    assert config.endpoint_url == "https://two.example"
    assert config.secrets == ("", "")  # anonymous: unsigned requests
    assert config.verify_ssl


def test_no_credentials_without_s3_uri_or_default_account() -> None:
    cluster = Cluster(account("sa", "s3creds"), s3_secret("s3creds", MINIO))
    assert cluster.locate(ModelSource("pvc://vol/m", service_account="sa")) == ("pvc://vol/m", None)
    assert cluster.locate(ModelSource("s3://b/m", service_account="default")) == ("s3://b/m", None)
    assert cluster.locate(ModelSource("s3://b/m")) == ("s3://b/m", None)


@pytest.mark.parametrize(
    ("objects", "needle"),
    [
        ((), "ServiceAccount team/models (the predictor's serviceAccountName) does not exist"),
        ((account("models", "gone"),), "Secret team/gone (listed by ServiceAccount team/models)"),
        (
            (account("models", "half"), s3_secret("half", AWS_SECRET_ACCESS_KEY=SECRET_KEY)),
            "Secret team/half has no key AWS_ACCESS_KEY_ID",
        ),
    ],
)
def test_a_missing_account_secret_or_key_is_named(
    objects: tuple[Secret | ServiceAccount, ...], needle: str
) -> None:
    with pytest.raises(StorageError) as caught:
        Cluster(*objects).locate(ModelSource("s3://b/m", service_account="models"))
    assert needle in caught.value.message
    assert SECRET_KEY not in caught.value.message


def storage_config(**entries: dict[str, Any] | str) -> Secret:
    data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in entries.items()}
    return parse_as(Secret, validate_object(_obj("Secret", "storage-config", stringData=data)))


ENTRY = {
    "type": "s3",
    "access_key_id": KEY_ID,
    "secret_access_key": SECRET_KEY,
    "endpoint_url": "http://127.0.0.1:9000",
    "bucket": "models",
    "region": "us-west-2",
}


def test_a_storage_key_names_the_bucket_endpoint_and_keys() -> None:
    cluster = Cluster(storage_config(localMinIO=ENTRY), account("default", "other"))
    source = ModelSource("", storage=StorageKey("localMinIO", "sklearn/iris"))
    uri, config = cluster.locate(source)
    assert uri == "s3://models/sklearn/iris"
    assert config is not None
    assert (config.endpoint_url, config.region, config.addressing_style) == (
        "http://127.0.0.1:9000",
        "us-west-2",
        "path",
    )
    assert config.secrets == (KEY_ID, SECRET_KEY)


def test_parameters_override_the_entry_and_pick_the_default_key() -> None:
    cluster = Cluster(storage_config(default_s3=ENTRY))
    params = (("bucket", "other"), ("type", "s3"))
    uri, config = cluster.locate(ModelSource("", storage=StorageKey(None, "/m", params)))
    assert uri == "s3://other/m"
    assert config is not None
    assert config.secrets == (KEY_ID, SECRET_KEY)
    # A storageUri keeps its bucket; the entry still gives the credentials.
    uri, _ = cluster.locate(ModelSource("s3://given/x", storage=StorageKey(None, "", params)))
    assert uri == "s3://given/x"


@pytest.mark.parametrize(
    ("secret", "key", "needle"),
    [
        (None, "k", "Secret team/storage-config (for storage.key 'k') does not exist"),
        (storage_config(other=ENTRY), "k", "Secret team/storage-config has no key 'k'"),
        (storage_config(k="{not json " + SECRET_KEY), "k", "key 'k' is not a JSON document"),
        (storage_config(k={**ENTRY, "type": "gcs"}), "k", "storage type 'gcs' is not supported"),
        (storage_config(k={**ENTRY, "bucket": ""}), "k", "needs a bucket"),
        (storage_config(), None, "The storage type is unknown"),
    ],
)
def test_storage_config_problems_are_named(
    secret: Secret | None, key: str | None, needle: str
) -> None:
    cluster = Cluster(*([secret] if secret else []))
    with pytest.raises(StorageError) as caught:
        cluster.locate(ModelSource("", storage=StorageKey(key, "m")))
    assert needle in caught.value.message
    assert SECRET_KEY not in caught.value.message


def test_unset_references_leave_a_model_sources_hash_as_before() -> None:
    before = {"uri": "s3://b/m", "secret": "s3", "mount_path": DEFAULT_MOUNT_PATH}
    assert spec_hash(ModelSource("s3://b/m", "s3")) == spec_hash(before)
    assert spec_hash(ModelSource("s3://b/m", "s3", service_account="sa")) != spec_hash(before)
