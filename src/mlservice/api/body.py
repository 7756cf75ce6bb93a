"""Reading a request body: strict JSON no deeper than `MAX_DEPTH`, checked before anything
recursive (a deep copy, a merge patch, validation) touches it."""

from __future__ import annotations

import json
import math
from typing import Any

from mlservice.errors import InvalidInput
from mlservice.resources.limits import MAX_DEPTH, too_deep


def parse_json(raw: bytes) -> Any:
    """The JSON value of `raw`, or InvalidInput saying what is wrong (never quoting the body)."""
    try:
        value = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        # Deeper than the parser itself goes; the walk below never sees it.
        raise InvalidInput(_too_deep_message(None)) from None
    except ValueError as err:
        raise InvalidInput(f"The request body is not valid JSON: {err}.") from None
    where = too_deep(value)
    if where is not None:
        raise InvalidInput(_too_deep_message(where))
    return value


def _too_deep_message(where: str | None) -> str:
    at = f" (at {where})" if where else ""
    return f"The request body is nested deeper than {MAX_DEPTH} levels{at}."


def _no_constant(name: str) -> Any:
    # Python's parser accepts NaN and Infinity, which JSON does not have (and no reply could
    # carry back).
    raise ValueError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value
