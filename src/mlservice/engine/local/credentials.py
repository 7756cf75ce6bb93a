"""KServe's storage credentials resolved on this machine: what its credential builder injects
into the storage-initializer, and what the initializer makes of it, as one `S3Config`.

Two ways, as in KServe (`pkg/credentials/`):
- the predictor's ServiceAccount: each Secret in its `secrets` holding
  `AWS_SECRET_ACCESS_KEY` is an S3 one (the last such wins, as merged env vars do); its
  annotations `serving.kserve.io/s3-endpoint`, `s3-usehttps`, `s3-region`, `s3-verifyssl`,
  `s3-usevirtualbucket`, `s3-useanoncredential` say how to reach the endpoint;
- `storage{key, path, parameters}`: the JSON entry `key` of the `storage-config` Secret
  (`type`, `bucket`, `access_key_id`, `secret_access_key`, `endpoint_url`, `region`,
  `anonymous`, `verify_ssl`), `parameters` overriding its fields; the model is
  `s3://{bucket}/{path}` when no storageUri is given.

Errors are StorageError naming the Secret, key or ServiceAccount, never a value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Final

from mlservice.engine.revision import ModelSource, StorageKey
from mlservice.errors import NotFound, StorageError
from mlservice.resources import Secret, ServiceAccount
from mlservice.storage import S3Config
from mlservice.storage.s3cfg import Secret as Masked

SecretLookup = Callable[[str, str], Secret]
"""(namespace, name) -> the Secret; raises NotFound. `mls up` reads them from its store."""
ServiceAccountLookup = Callable[[str, str], ServiceAccount]
"""(namespace, name) -> the ServiceAccount; raises NotFound."""

DEFAULT_SERVICE_ACCOUNT: Final = "default"
ACCESS_KEY_ID: Final = "AWS_ACCESS_KEY_ID"
SECRET_ACCESS_KEY: Final = "AWS_SECRET_ACCESS_KEY"
# KServe's built-in key names, used when its ConfigMap names none.
_LEGACY_KEYS: Final = ("awsAccessKeyID", "awsSecretAccessKey")
_PREFIX: Final = "serving.kserve.io/"
S3_ENDPOINT: Final = _PREFIX + "s3-endpoint"
S3_USE_HTTPS: Final = _PREFIX + "s3-usehttps"
S3_REGION: Final = _PREFIX + "s3-region"
S3_VERIFY_SSL: Final = _PREFIX + "s3-verifyssl"
S3_VIRTUAL_BUCKET: Final = _PREFIX + "s3-usevirtualbucket"
S3_ANONYMOUS: Final = _PREFIX + "s3-useanoncredential"
STORAGE_TYPES: Final = ("s3",)


def no_service_accounts(namespace: str, name: str) -> ServiceAccount:
    raise NotFound(f"ServiceAccount {namespace}/{name} does not exist.")


def model_location(
    source: ModelSource,
    *,
    namespace: str,
    secrets: SecretLookup,
    accounts: ServiceAccountLookup,
) -> tuple[str, S3Config | None]:
    """The model's URI and the KServe S3 credentials for it (None: none named or found)."""
    uri, config = source.uri, None
    if source.storage is not None:
        uri, config = storage_entry(source.storage, uri=uri, namespace=namespace, secrets=secrets)
    if config is None and source.service_account is not None and uri.startswith("s3://"):
        config = service_account_s3(
            source.service_account, namespace=namespace, secrets=secrets, accounts=accounts
        )
    return uri, config


def service_account_s3(
    name: str, *, namespace: str, secrets: SecretLookup, accounts: ServiceAccountLookup
) -> S3Config | None:
    """The S3 settings of the last S3 Secret ServiceAccount `name` lists, if any.

    A missing `default` account means no credentials (every namespace has one on a cluster);
    a missing named account, or a missing Secret it lists, is an error, as for a pod."""
    try:
        account = accounts(namespace, name)
    except NotFound:
        if name == DEFAULT_SERVICE_ACCOUNT:
            return None
        raise StorageError(
            f"ServiceAccount {namespace}/{name} (the predictor's serviceAccountName) "
            "does not exist."
        ) from None
    found = None
    for secret_name in account.secret_names:
        try:
            secret = secrets(namespace, secret_name)
        except NotFound:
            raise StorageError(
                f"Secret {namespace}/{secret_name} (listed by ServiceAccount {namespace}/{name}) "
                "does not exist."
            ) from None
        if secret_key_name(secret.decoded()) is not None:
            found = secret
    return None if found is None else annotated_s3(found)


def secret_key_name(data: Mapping[str, bytes]) -> str | None:
    """The key holding the secret access key, when the Secret is an S3 one."""
    return next((k for k in (SECRET_ACCESS_KEY, _LEGACY_KEYS[1]) if k in data), None)


def annotated_s3(secret: Secret) -> S3Config:
    """A KServe S3 Secret's settings: keys from its data, the endpoint from its annotations."""
    data = secret.decoded()
    notes = secret.metadata.annotations or {}
    anonymous = _true(notes.get(S3_ANONYMOUS, ""))
    access = secret_key = ""
    if not anonymous:
        access = _text(secret, data, (ACCESS_KEY_ID, _LEGACY_KEYS[0]))
        secret_key = _text(secret, data, (SECRET_ACCESS_KEY, _LEGACY_KEYS[1]))
    endpoint = notes.get(S3_ENDPOINT)
    url = None
    if endpoint:
        # KServe prefixes the annotation with https://, or http:// for `s3-usehttps: "0"`.
        scheme = "http" if notes.get(S3_USE_HTTPS) == "0" else "https"
        url = endpoint if "://" in endpoint else f"{scheme}://{endpoint}"
    return _config(
        url,
        region=notes.get(S3_REGION),
        access=access,
        secret=secret_key,
        verify=notes.get(S3_VERIFY_SSL, "1") not in ("0", "false", "False"),
        virtual=_true(notes.get(S3_VIRTUAL_BUCKET, "")),
    )


def storage_entry(
    storage: StorageKey, *, uri: str, namespace: str, secrets: SecretLookup
) -> tuple[str, S3Config | None]:
    """The URI and S3 settings of a `storage` spec, from the `storage-config` Secret."""
    params = dict(storage.parameters)
    where = f"Secret {namespace}/{storage.secret}"
    try:
        data: Mapping[str, bytes] | None = secrets(namespace, storage.secret).decoded()
    except NotFound:
        if storage.key is not None:
            raise StorageError(
                f"{where} (for storage.key {storage.key!r}) does not exist."
            ) from None
        data = None
    key = storage.key
    raw = None
    if data is not None:
        if key is not None:
            raw = data.get(key)
            if raw is None:
                raise StorageError(f"{where} has no key {key!r} (the storage.key).")
        else:
            key = f"default_{params['type']}" if "type" in params else "default"
            raw = data.get(key)
    entry: dict[str, str] = {}
    if raw is not None:
        entry = _entry(raw, where=f"{where} key {key!r}")
    entry.update(params)
    kind = entry.get("type")
    if not kind:
        raise StorageError(
            f"The storage type is unknown: {where} has no entry {key!r} with a type, and "
            "storage.parameters give none."
        )
    if kind not in STORAGE_TYPES:
        raise StorageError(
            f"{where} key {key!r}: storage type {kind!r} is not supported here; use s3."
        )
    if not uri:
        bucket = entry.get("bucket")
        if not bucket:
            raise StorageError(f"{where} key {key!r}: format s3 needs a bucket, and none is set.")
        uri = f"s3://{bucket}/{storage.path.lstrip('/')}"
    if raw is None:
        return uri, None
    return uri, _config(
        entry.get("endpoint_url") or None,
        region=entry.get("region"),
        access="" if _true(entry.get("anonymous", "")) else entry.get("access_key_id", ""),
        secret="" if _true(entry.get("anonymous", "")) else entry.get("secret_access_key", ""),
        verify=entry.get("verify_ssl", "1") not in ("0", "false", "False"),
        virtual=_true(entry.get("virtual_bucket", "")),
    )


def _entry(raw: bytes, *, where: str) -> dict[str, str]:
    try:
        parsed = json.loads(raw)
    except ValueError:
        # The text holds keys: say where it is, never what it holds.
        raise StorageError(f"{where} is not a JSON document.") from None
    if not isinstance(parsed, dict):
        raise StorageError(f"{where} is not a JSON object.")
    return {
        str(k): (str(v).lower() if isinstance(v, bool) else str(v))
        for k, v in parsed.items()
        if v is not None
    }


def _config(
    url: str | None, *, region: str | None, access: str, secret: str, verify: bool, virtual: bool
) -> S3Config:
    defaults = S3Config()
    host = url or defaults.host_base
    # A custom endpoint (MinIO, Ceph, moto) is addressed path-style unless asked otherwise.
    bucket_host = defaults.host_bucket if (virtual or url is None) else host
    return S3Config(
        host_base=host,
        host_bucket=bucket_host,
        bucket_location=region or defaults.bucket_location,
        access_key=Masked(access),
        secret_key=Masked(secret),
        verify_ssl=verify,
    )


def _text(secret: Secret, data: Mapping[str, bytes], keys: tuple[str, ...]) -> str:
    key = next((k for k in keys if k in data), None)
    if key is None:
        raise StorageError(f"Secret {secret.ref} has no key {keys[0]}.")
    try:
        return data[key].decode()
    except UnicodeDecodeError:
        raise StorageError(f"Secret {secret.ref} key {key} is not UTF-8.") from None


def _true(value: str) -> bool:
    return value.strip().lower() in ("true", "1", "yes")
