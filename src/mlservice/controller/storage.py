"""The storage step of a revision: its model in a local folder before any replica starts.

What a storage-initializer container does in Kubernetes, done once per revision here (the
replicas of a revision share the folder). Progress and errors go to the revision's
`storage-initializer` log; S3 credentials come from the referenced Secret's `.s3cfg` and reach
nothing but the S3 client (`fetch_model` masks them even in its own log lines).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlservice.errors import NotFound, StorageError
from mlservice.home import Home
from mlservice.resources import Secret, parse_as
from mlservice.resources.secret import S3_KEY, S3_LABEL, S3_LABEL_VALUE
from mlservice.storage import fetch_model
from mlservice.store import Key, Store


@dataclass(frozen=True)
class ModelSource:
    uri: str
    secret: str | None = None  # name of the Secret with `.s3cfg`, for s3:// URIs


def s3cfg_of(store: Store, namespace: str, name: str) -> str:
    """The `.s3cfg` text of Secret `namespace/name`; StorageError naming what is wrong."""
    try:
        secret = parse_as(Secret, store.get(Key("", "Secret", namespace, name)))
    except NotFound:
        raise StorageError(f"Secret {namespace}/{name} does not exist.") from None
    if not secret.is_s3:
        raise StorageError(
            f"Secret {namespace}/{name} lacks the label {S3_LABEL}: {S3_LABEL_VALUE}."
        )
    raw = secret.decoded().get(S3_KEY)
    if raw is None:
        raise StorageError(f"Secret {namespace}/{name} has no {S3_KEY} key.")
    try:
        return raw.decode()
    except UnicodeDecodeError:
        # The text itself is a credential: say where it is, never what it holds.
        raise StorageError(f"Secret {namespace}/{name} key {S3_KEY} is not UTF-8.") from None


async def prepare_model(
    source: ModelSource, *, namespace: str, store: Store, home: Home, log_path: Path
) -> Path:
    """Fetch the model into the shared cache (or find it in place); its local path.

    Raises StorageError with a message that names the URI or the Secret, nothing secret."""
    s3cfg = s3cfg_of(store, namespace, source.secret) if source.secret else None
    log_path.parent.mkdir(parents=True, exist_ok=True)
    return await asyncio.to_thread(_fetch, source.uri, home, s3cfg, log_path)


def _fetch(uri: str, home: Home, s3cfg: str | None, log_path: Path) -> Path:
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"{datetime.now(UTC).isoformat(timespec='seconds')} storage-initializer\n")
        return fetch_model(uri, home=home, secret_s3cfg=s3cfg, log=log)
