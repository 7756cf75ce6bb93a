"""Kubernetes resource quantities (`512Mi`, `1G`, `500m`, `1e3`) as numbers."""

from __future__ import annotations

import re
from decimal import Decimal

from mlservice.errors import InvalidInput

_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_QUANTITY = re.compile(
    r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE]?)$"
)


def parse_quantity(value: str | int | float, *, field: str) -> Decimal:
    """The quantity's value in base units (bytes, cores); `field` names it in the error."""
    match = _QUANTITY.match(str(value).strip())
    if match is None:
        raise InvalidInput(f"{field} {value!r} is not a Kubernetes quantity (e.g. 512Mi, 500m, 2).")
    number, suffix = match.groups()
    try:
        amount = Decimal(number) * _SUFFIXES[suffix]
    except ArithmeticError as exc:  # an exponent past what Decimal can hold
        raise InvalidInput(f"{field} {value!r} is out of range.") from exc
    if amount < 0:
        raise InvalidInput(f"{field} {value!r} must not be negative.")
    return amount


def parse_bytes(value: str | int | float, *, field: str) -> int:
    """A memory quantity in whole bytes, rounded up as Kubernetes does."""
    amount = parse_quantity(value, field=field)
    return int(amount.to_integral_value(rounding="ROUND_CEILING"))


def parse_cpu(value: str | int | float, *, field: str) -> float:
    """A CPU quantity in cores (`500m` -> 0.5)."""
    return float(parse_quantity(value, field=field))
