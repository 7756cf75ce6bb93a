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


def test_the_tree_drawing_lists_every_error() -> None:
    """The module docstring is the map users read: every error class appears in it, under
    the parent it really has."""
    drawn: dict[str, str] = {}
    parents: list[tuple[int, str]] = []
    assert errors.__doc__ is not None
    for line in errors.__doc__.splitlines():
        stripped = line.lstrip(" |+-")
        name = stripped.split(" ", 1)[0]
        if not name or not name[0].isupper() or not hasattr(errors, name):
            continue
        depth = len(line) - len(stripped)
        while parents and parents[-1][0] >= depth:
            parents.pop()
        drawn[name] = parents[-1][1] if parents else ""
        parents.append((depth, name))
    classes = {
        name: cls
        for name, cls in vars(errors).items()
        if isinstance(cls, type) and issubclass(cls, errors.MLServiceError)
    }
    assert set(drawn) == set(classes)
    for name, parent in drawn.items():
        if parent:
            assert classes[name].__mro__[1].__name__ == parent, name


def test_a_manifest_condition_reads_invalid_spec_for_the_generic_reasons() -> None:
    """What the controllers and the operator put in a condition: a generic reason says nothing
    about the manifest; a specific one stays."""
    assert errors.MLServiceError("x").spec_reason == "InvalidSpec"
    assert errors.InvalidInput("x").spec_reason == "InvalidSpec"
    assert errors.UnsafeArchiveError("x").spec_reason == "UnsafeArchive"
    assert errors.StorageNotFound("x").spec_reason == "StorageNotFound"
