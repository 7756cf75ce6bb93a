"""Model URIs as manifests write them (`pvc://`, `s3://`, `http(s)://`, `file://`), and the
http(s) URLs a logger sends to."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from mlservice.resources._base import is_dns_subdomain

SCHEMES = ("pvc://", "s3://", "http://", "https://", "file://")


def scheme_of(uri: str) -> str:
    """`"s3"` for `s3://bucket/key`; the URI was validated, so a scheme is always there."""
    return uri.split("://", 1)[0]


def _model_uri(value: str) -> str:
    if not value.startswith(SCHEMES):
        raise ValueError(f'"{value}" must start with one of {", ".join(SCHEMES)}')
    rest = value.split("://", 1)[1]
    scheme = scheme_of(value)
    if scheme in ("pvc", "s3"):
        head, _, path = rest.partition("/")
        if not head:
            what = "volume" if scheme == "pvc" else "bucket"
            raise ValueError(f'"{value}" names no {what}')
        if scheme == "pvc" and not is_dns_subdomain(head):
            raise ValueError(f'"{value}" names volume "{head}", which is not a DNS-1123 subdomain')
        if ".." in path.split("/"):
            raise ValueError(f'"{value}" must not contain ".."')
    if scheme == "file" and not rest.startswith("/"):
        raise ValueError(f'"{value}" must be file:// followed by an absolute path')
    return value


# Schemes KServe's storage initializer reads and mlservice does not (yet): accepted on an
# InferenceService so a copied manifest applies; its controller reports them as unsupported.
KSERVE_ONLY_SCHEMES = ("gs://", "hdfs://", "webhdfs://", "hf://", "oci://")


def _storage_uri(value: str) -> str:
    if value.startswith(KSERVE_ONLY_SCHEMES):
        if "\0" in value:
            raise ValueError("a URI must not contain a NUL character")
        return value
    if not value.startswith(SCHEMES):
        known = ", ".join((*SCHEMES, *KSERVE_ONLY_SCHEMES))
        raise ValueError(f'"{value}" must start with one of {known}')
    return _model_uri(value)


def _s3_uri(value: str) -> str:
    if not value.startswith("s3://"):
        raise ValueError(f'"{value}" must start with s3://')
    return _model_uri(value)


ModelUri = Annotated[str, AfterValidator(_model_uri)]
StorageUri = Annotated[str, AfterValidator(_storage_uri)]
S3Uri = Annotated[str, AfterValidator(_s3_uri)]


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or len(value.split("://", 1)[1]) == 0:
        raise ValueError(f'"{value}" is not an http:// or https:// URL')
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
