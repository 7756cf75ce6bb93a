"""`s3://bucket/prefix`: the one module that talks to boto3.

A URI naming one object downloads that file; otherwise every object below `prefix/` is downloaded
keeping its relative path. The version cached against is the listing's keys and ETags, and each
object is fetched with `If-Match` on its listed ETag, so content never mixes two versions.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import boto3
import botocore.exceptions
from botocore import UNSIGNED
from botocore.config import Config

from mlservice.errors import (
    InvalidStorageSource,
    StorageAccessDenied,
    StorageError,
    StorageNotFound,
    StorageUnreachable,
    UnsafePath,
)
from mlservice.storage.base import Log, Probe, ProgressLog
from mlservice.storage.paths import relative_parts, safe_join
from mlservice.storage.s3cfg import S3Config
from mlservice.storage.uri import ModelURI

# botocore logs request headers (the access key is in `Authorization`) at DEBUG; a process that
# turns on debug logging must still not write credentials to its logs.
for _name in ("boto3", "botocore", "s3transfer"):
    if logging.getLogger(_name).level < logging.WARNING:
        logging.getLogger(_name).setLevel(logging.WARNING)

_DENIED = {
    "AccessDenied",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "InvalidToken",
    "ExpiredToken",
    "AuthorizationHeaderMalformed",
}
_CHUNK = 1 << 20


@dataclass(frozen=True)
class _Object:
    key: str
    etag: str
    size: int
    relative: PurePosixPath


@dataclass(frozen=True)
class _Plan:
    objects: tuple[_Object, ...]
    single: bool

    @property
    def version(self) -> str:
        lines = "\n".join(f"{o.key}\t{o.etag}\t{o.size}" for o in self.objects)
        return hashlib.sha256(lines.encode()).hexdigest()


class S3Provider:
    """Reaches S3 with an `.s3cfg`'s endpoint and keys, or boto3's defaults without one."""

    def __init__(self, config: S3Config | None) -> None:
        self._config = config
        self._client: Any = None
        self._plans: dict[str, _Plan] = {}

    def probe(self, uri: ModelURI) -> Probe:
        plan = self._plan(uri)
        name = plan.objects[0].relative.name if plan.single else None
        return Probe(version=plan.version, file_name=name)

    def download(self, uri: ModelURI, dest: Path, log: Log) -> Path:
        plan = self._plan(uri)
        bucket, _ = _split(uri)
        log(f"fetching {len(plan.objects)} object(s) from {uri} via {self._endpoint}")
        for obj in plan.objects:
            target = safe_join(dest, obj.relative.as_posix(), within="the model folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            self._get(uri, bucket, obj, target, log)
        return dest.joinpath(plan.objects[0].relative) if plan.single else dest

    @property
    def _endpoint(self) -> str:
        return self._config.endpoint_url if self._config else "the default AWS endpoint"

    def _plan(self, uri: ModelURI) -> _Plan:
        if uri.raw not in self._plans:
            self._plans[uri.raw] = self._list(uri)
        return self._plans[uri.raw]

    def _list(self, uri: ModelURI) -> _Plan:
        bucket, key = _split(uri)
        if key and not key.endswith("/"):
            # An exact key sorts first among keys starting with it: one short listing tells a
            # single object from a folder without listing its siblings (`model` vs `model-v2/`).
            first = self._objects(uri, bucket, key, limit=1)
            if first and first[0]["Key"] == key:
                folder = key.rpartition("/")[0]
                name = _relative(uri, key, folder + "/" if folder else "")
                return _Plan((_object(first[0], name),), single=True)
            key += "/"
        below = [o for o in self._objects(uri, bucket, key) if not o["Key"].endswith("/")]
        if not below:
            raise StorageNotFound(f"No object in bucket {bucket} matches {uri}.")
        return _Plan(tuple(_object(o, _relative(uri, o["Key"], key)) for o in below), False)

    def _objects(
        self, uri: ModelURI, bucket: str, prefix: str, *, limit: int | None = None
    ) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = []
        with self._translated(uri):
            if limit is not None:
                page = self._s3().list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=limit)
                return list(page.get("Contents", []))
            paginator = self._s3().get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                listed.extend(page.get("Contents", []))
        return listed

    def _get(self, uri: ModelURI, bucket: str, obj: _Object, target: Path, log: Log) -> None:
        progress = ProgressLog(log, label=f"s3://{bucket}/{obj.key}", total=obj.size)
        with self._translated(uri), target.open("wb") as out:
            # If-Match: an object replaced since the listing fails rather than mixing versions.
            match = {"IfMatch": obj.etag} if obj.etag else {}
            response = self._s3().get_object(Bucket=bucket, Key=obj.key, **match)
            for chunk in response["Body"].iter_chunks(_CHUNK):
                out.write(chunk)
                progress.advance(len(chunk))
        progress.finish()

    def _s3(self) -> Any:
        if self._client is None:
            self._client = _make_client(self._config)
        return self._client

    @contextmanager
    def _translated(self, uri: ModelURI) -> Iterator[None]:
        """boto3's errors as one-sentence storage errors; their text is never passed on."""
        bucket, key = _split(uri)
        try:
            yield
        except botocore.exceptions.ClientError as exc:
            raise _client_error(exc, uri, bucket, key) from None
        except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as exc:
            raise StorageUnreachable(
                f"S3 endpoint {self._endpoint} for {uri} is unreachable ({type(exc).__name__})."
            ) from None
        except botocore.exceptions.NoCredentialsError:
            raise StorageAccessDenied(
                f"No S3 credentials for {uri}; reference an S3 Secret with an .s3cfg."
            ) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise StorageError(f"Fetching {uri} failed ({type(exc).__name__}).") from None


def _make_client(config: S3Config | None) -> Any:
    settings: dict[str, Any] = {
        "retries": {"max_attempts": 3, "mode": "standard"},
        "connect_timeout": 10,
        "read_timeout": 60,
    }
    if config is None:
        return boto3.session.Session().client("s3", config=Config(**settings))
    signed = bool(config.access_key and config.secret_key)
    settings["signature_version"] = (
        ("s3" if config.signature_v2 else "s3v4") if signed else UNSIGNED
    )
    settings["s3"] = {"addressing_style": config.addressing_style}
    session = boto3.session.Session(
        aws_access_key_id=config.access_key.reveal() or None,
        aws_secret_access_key=config.secret_key.reveal() or None,
        region_name=config.region,
    )
    return session.client(
        "s3",
        endpoint_url=config.endpoint_url,
        verify=config.verify_ssl,
        config=Config(**settings),
    )


def _client_error(
    exc: botocore.exceptions.ClientError, uri: ModelURI, bucket: str, key: str
) -> StorageError:
    code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code == "NoSuchBucket":
        return StorageNotFound(f"Bucket {bucket} of {uri} does not exist.")
    if code in ("NoSuchKey", "404", "NotFound"):
        return StorageNotFound(f"Object {key} of {uri} does not exist.")
    if code in _DENIED or status == 403:
        return StorageAccessDenied(
            f"Access to {uri} was denied ({code}); check access_key and secret_key in the .s3cfg."
        )
    if code in ("PreconditionFailed", "412"):
        return StorageError(f"{uri} changed while it was being downloaded; fetch it again.")
    return StorageError(f"S3 refused {uri} ({code}).")


def _split(uri: ModelURI) -> tuple[str, str]:
    bucket, _, key = uri.rest.partition("/")
    if not bucket:
        raise InvalidStorageSource(f"Model URI {uri} names no bucket; use s3://BUCKET/PREFIX.")
    return bucket, key


def _object(listed: dict[str, Any], relative: PurePosixPath) -> _Object:
    return _Object(listed["Key"], listed.get("ETag", ""), int(listed.get("Size", 0)), relative)


def _relative(uri: ModelURI, key: str, prefix: str) -> PurePosixPath:
    try:
        relative = relative_parts(key[len(prefix) :])
    except UnsafePath as exc:
        raise StorageError(
            f"Object {key} under {uri} has a key that {exc.why}; it would land outside the "
            "model folder."
        ) from None
    if relative == PurePosixPath():
        raise StorageError(f"Object {key} under {uri} has no file name.")
    return relative
