from __future__ import annotations

import pytest

from mlservice import errors


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.InvalidInput, 400),
        (errors.InvalidObject, 422),
        (errors.Unauthorized, 401),
        (errors.ModelNotFound, 404),
        (errors.Conflict, 409),
        (errors.PayloadTooLarge, 413),
        (errors.InferenceError, 500),
        (errors.NotImplementedByModel, 501),
        (errors.Unavailable, 503),
    ],
)
def test_each_error_carries_its_http_status(
    error: type[errors.MLServiceError], status: int
) -> None:
    assert error("boom").status_code == status
    assert issubclass(error, errors.MLServiceError)


def test_invalid_object_keeps_field_causes() -> None:
    cause = errors.FieldCause(field="spec.releases[0].name", message="must be a DNS-1123 label")
    err = errors.InvalidObject("MLService default/x is invalid", [cause])
    assert err.causes == [cause]
    assert err.message == "MLService default/x is invalid"
