"""Building blocks shared by every kind: the wire-name convention and the small value types."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainValidator, WithJsonSchema
from pydantic.alias_generators import to_camel

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_QUANTITY = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?\d+)?$")


class Model(BaseModel):
    """A part of a manifest: camelCase on the wire, unknown keys rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=False,
        extra="forbid",
        # Kubernetes rejects "3" for an integer and "true" for a boolean; so do we.
        strict=True,
        protected_namespaces=(),
        frozen=True,
    )


class Passthrough(Model):
    """A Kubernetes type we only partly use: the listed `passthrough` keys are kept untyped.

    Users copy PodSpecs from real clusters, so legitimate Kubernetes fields must not be
    rejected; listing them (rather than allowing anything) keeps typos caught.
    """

    model_config = ConfigDict(extra="allow")
    passthrough: ClassVar[frozenset[str]] = frozenset()


def is_dns_label(value: str) -> bool:
    return len(value) <= 63 and bool(_DNS_LABEL.match(value))


def is_dns_subdomain(value: str) -> bool:
    return len(value) <= 253 and all(is_dns_label(part) for part in value.split("."))


def _dns_label(value: str) -> str:
    if not is_dns_label(value):
        raise ValueError(
            f'"{value}" is not a DNS-1123 label (lower-case letters, digits and "-", '
            "starting and ending with a letter or digit, at most 63 characters)"
        )
    return value


def _dns_subdomain(value: str) -> str:
    if not is_dns_subdomain(value):
        raise ValueError(
            f'"{value}" is not a DNS-1123 subdomain (dot-separated DNS-1123 labels, '
            "at most 253 characters)"
        )
    return value


def _quantity(value: Any) -> str:
    # YAML turns `cpu: 1` into an int; Kubernetes accepts it and stores the string form.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{value!r} is not a quantity such as 500m, 1, 2Gi")
    text = str(value)
    if not _QUANTITY.match(text):
        raise ValueError(f'"{text}" is not a quantity such as 500m, 1, 2Gi')
    return text


def _int_or_string(value: Any) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r} must be a port number or a port name")
    if isinstance(value, int) and not 1 <= value <= 65535:
        raise ValueError(f"port {value} is outside 1-65535")
    return value


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"port {value} is outside 1-65535")
    return value


def _absolute_path(value: str) -> str:
    if "\0" in value:
        raise ValueError("a path must not contain a NUL character")
    if not value.startswith("/"):
        raise ValueError(f'"{value}" must be an absolute path')
    return value


def _relative_path(value: str) -> str:
    if "\0" in value:
        raise ValueError("a path must not contain a NUL character")
    if value.startswith("/"):
        raise ValueError(f'"{value}" must be a relative path, not an absolute one')
    if ".." in value.split("/"):
        raise ValueError(f'"{value}" must not contain ".."')
    return value


# The validators say what is wrong in words; the schemas tell API clients (and fuzzers) the form.
DnsLabel = Annotated[
    str,
    AfterValidator(_dns_label),
    WithJsonSchema({"type": "string", "pattern": _DNS_LABEL.pattern, "maxLength": 63}),
]
DnsSubdomain = Annotated[
    str,
    AfterValidator(_dns_subdomain),
    WithJsonSchema({"type": "string", "pattern": _DNS_SUBDOMAIN, "maxLength": 253}),
]
Quantity = Annotated[str, PlainValidator(_quantity)]
IntOrString = Annotated[int | str, PlainValidator(_int_or_string)]
Port = Annotated[int, AfterValidator(_port)]
AbsolutePath = Annotated[str, AfterValidator(_absolute_path)]
RelativePath = Annotated[str, AfterValidator(_relative_path)]
