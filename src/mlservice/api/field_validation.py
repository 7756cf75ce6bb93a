"""`?fieldValidation=Ignore|Warn|Strict`: what a write does with fields its kind does not know.

Kubernetes' meanings: Ignore drops them silently, Warn drops them with one `Warning` header
each, Strict refuses the write. Unlike Kubernetes (whose default is Warn), a write that names
no mode is Strict here, as it always was: `mls apply` and the SDK rely on a typo failing.
Strict answers 422 with a cause per field (Kubernetes answers 400 "strict decoding error");
the causes are what `kubectl apply`/`edit` show.
"""

from __future__ import annotations

from enum import StrEnum

from mlservice.errors import FieldCause, InvalidObject


class FieldValidation(StrEnum):
    IGNORE = "Ignore"
    WARN = "Warn"
    STRICT = "Strict"


def field_validation(value: str | None) -> FieldValidation:
    """The mode a request asks for; an unknown one is a 422 as Kubernetes gives it."""
    if value is None or value == "":
        return FieldValidation.STRICT
    try:
        return FieldValidation(value)
    except ValueError:
        supported = ", ".join(f'"{m.value}"' for m in sorted(FieldValidation))
        message = f'Unsupported value: "{value}": supported values: {supported}'
        raise InvalidObject(
            f"fieldValidation: {message}",
            causes=[FieldCause("fieldValidation", message, "FieldValueNotSupported")],
        ) from None


def unknown_field_warning(cause: FieldCause) -> str:
    """Kubernetes' text for one dropped field."""
    return f'unknown field "{cause.field}"'


def warning_header(text: str) -> str:
    """A `Warning` header value (RFC 7234 code 299, no agent), as kube-apiserver writes it."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'
