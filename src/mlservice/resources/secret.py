"""`Secret` (core `v1`), and the s3cmd settings an S3 Secret carries under `.s3cfg`."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

from pydantic import field_validator

from mlservice.errors import FieldCause, InvalidInput
from mlservice.resources.meta import Envelope

S3_LABEL = "tensorstack.dev/resource"
S3_LABEL_VALUE = "s3"
S3_KEY = ".s3cfg"
_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


@dataclass(frozen=True)
class S3Config:
    """The s3cmd settings mlservice reads; the rest of an s3cmd file is ignored."""

    host_base: str | None = None
    host_bucket: str | None = None
    bucket_location: str | None = None
    use_https: bool = True
    access_key: str | None = None
    secret_key: str | None = None
    signature_v2: bool = False

    @classmethod
    def parse(cls, text: str) -> S3Config:
        """Read s3cmd's `key = value` format; raises ValueError naming the first bad line by
        its number, never its text: a broken line may well hold a key."""
        values: dict[str, str] = {}
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith(("#", ";", "[")):
                continue
            key, sep, value = line.partition("=")
            if not sep:
                raise ValueError(f'line {number} is not "key = value" (it has no "=")')
            if not key.strip():
                raise ValueError(f'line {number} is not "key = value" (it has no key)')
            values[key.strip()] = value.strip()
        return cls(
            host_base=values.get("host_base") or None,
            host_bucket=values.get("host_bucket") or None,
            bucket_location=values.get("bucket_location") or None,
            use_https=_truthy(values.get("use_https", "True")),
            access_key=values.get("access_key") or None,
            secret_key=values.get("secret_key") or None,
            signature_v2=_truthy(values.get("signature_v2", "False")),
        )


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("true", "yes", "on", "1")


class Secret(Envelope):
    type: str = "Opaque"
    data: dict[str, str] | None = None
    string_data: dict[str, str] | None = None
    immutable: bool | None = None

    @field_validator("data", "string_data", mode="before")
    @classmethod
    def _unquoted(cls, value: object) -> object:
        """A type error would quote the value, a credential: these name the key instead."""
        if value is None:
            return value
        if not isinstance(value, dict):
            raise ValueError("must map keys to string values")
        for key, item in value.items():
            if not isinstance(item, str):
                raise ValueError(f"the value of key {key!r} must be a string")
        return value

    @property
    def is_s3(self) -> bool:
        return (self.metadata.labels or {}).get(S3_LABEL) == S3_LABEL_VALUE

    def decoded(self) -> dict[str, bytes]:
        """Every value as bytes, `stringData` winning over `data` as in Kubernetes."""
        values = {k: base64.b64decode(v) for k, v in (self.data or {}).items()}
        values.update({k: v.encode() for k, v in (self.string_data or {}).items()})
        return values

    def s3_config(self) -> S3Config:
        """The S3 settings of a Secret used as S3 storage; raises InvalidInput if it is not one."""
        if not self.is_s3:
            raise InvalidInput(
                f"Secret {self.ref} is used as S3 storage but lacks the label "
                f"{S3_LABEL}: {S3_LABEL_VALUE}."
            )
        raw = self.decoded().get(S3_KEY)
        if raw is None:
            raise InvalidInput(f"Secret {self.ref} has no {S3_KEY} key.")
        return S3Config.parse(raw.decode())

    def problems(self) -> list[FieldCause]:
        causes = [*_key_problems("data", self.data), *_key_problems("stringData", self.string_data)]
        for key, value in (self.data or {}).items():
            try:
                base64.b64decode(value, validate=True)
            except ValueError:  # binascii.Error, or a value that is not ASCII at all
                causes.append(FieldCause(f"data[{key}]", "value is not valid base64"))
        if not causes and self.is_s3:
            causes += _s3_problems(self)
        return causes

    def to_wire(self) -> dict[str, Any]:
        """`stringData` is write-only, as in Kubernetes: it is folded into base64 `data`."""
        wire = super().to_wire()
        strings = wire.pop("stringData", None)
        if strings:
            data = wire.setdefault("data", {})
            data.update({k: base64.b64encode(v.encode()).decode() for k, v in strings.items()})
        return wire


def _key_problems(field: str, values: dict[str, str] | None) -> list[FieldCause]:
    return [
        FieldCause(f"{field}[{key}]", f'key "{key}" may only hold letters, digits, "-", "_", "."')
        for key in values or {}
        if not _KEY.match(key)
    ]


def _s3_problems(secret: Secret) -> list[FieldCause]:
    where = "stringData" if S3_KEY in (secret.string_data or {}) else "data"
    raw = secret.decoded().get(S3_KEY)
    if raw is None:
        return [
            FieldCause(
                f"data[{S3_KEY}]",
                f"an S3 Secret (label {S3_LABEL}: {S3_LABEL_VALUE}) must carry key {S3_KEY}",
                "FieldValueRequired",
            )
        ]
    try:
        S3Config.parse(raw.decode())
    except UnicodeDecodeError:
        return [FieldCause(f"{where}[{S3_KEY}]", "s3cmd config is not UTF-8 text")]
    except ValueError as err:
        return [FieldCause(f"{where}[{S3_KEY}]", f"s3cmd config {err}")]
    return []
