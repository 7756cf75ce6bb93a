"""Label and field selectors (`?labelSelector=`, `?fieldSelector=`), as Kubernetes parses them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlservice.errors import InvalidInput

Predicate = Callable[[dict[str, Any]], bool]

_SET_TERM = re.compile(r"^\s*([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ_TERM = re.compile(r"^\s*([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)\s*$")
_EXISTS_TERM = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*$")
# Commas separate terms except inside `in (a,b)`.
_SPLIT = re.compile(r",(?![^(]*\))")
Field = Callable[[dict[str, Any]], str]


def _at(*path: str) -> Field:
    def get(obj: dict[str, Any]) -> str:
        node: Any = obj
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        return "" if node is None else str(node)

    return get


_FIELDS: dict[str, Field] = {
    "metadata.name": _at("metadata", "name"),
    "metadata.namespace": _at("metadata", "namespace"),
}
# The fields Kubernetes selects Events by: `kubectl describe` lists an object's events with
# `involvedObject.name=..,involvedObject.namespace=..,involvedObject.kind=..,involvedObject.uid=..`.
_KIND_FIELDS: dict[str, dict[str, Field]] = {
    "Event": {
        **{
            f"involvedObject.{key}": _at("involvedObject", key)
            for key in (
                "kind",
                "namespace",
                "name",
                "uid",
                "apiVersion",
                "resourceVersion",
                "fieldPath",
            )
        },
        "reason": _at("reason"),
        "reportingComponent": _at("reportingComponent"),
        "source": _at("source", "component"),
        "type": _at("type"),
    },
}


@dataclass(frozen=True)
class _Term:
    key: str
    op: str
    values: frozenset[str]

    def holds(self, labels: dict[str, str]) -> bool:
        present, value = self.key in labels, labels.get(self.key)
        match self.op:
            case "exists":
                return present
            case "!exists":
                return not present
            case "in" | "=":
                return value in self.values
            case _:  # "notin", "!="
                return value not in self.values


def label_selector(text: str | None) -> Predicate | None:
    if not text or not text.strip():
        return None
    terms = [_label_term(part, text) for part in _SPLIT.split(text)]

    def matches(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(term.holds(labels) for term in terms)

    return matches


def _label_term(part: str, whole: str) -> _Term:
    if found := _SET_TERM.match(part):
        values = frozenset(v.strip() for v in found[3].split(",") if v.strip())
        return _Term(found[1], found[2], values)
    if found := _EQ_TERM.match(part):
        return _Term(found[1], "!=" if found[2] == "!=" else "=", frozenset({found[3]}))
    if found := _EXISTS_TERM.match(part):
        return _Term(found[2], "!exists" if found[1] else "exists", frozenset())
    raise InvalidInput(f"labelSelector {whole!r} has a term {part.strip()!r} it cannot parse.")


def field_selector(text: str | None, *, kind: str = "") -> Predicate | None:
    """A predicate for `?fieldSelector=`; the fields are `metadata.name|namespace` and, for
    some kinds (`kind`), Kubernetes' own (an Event's `involvedObject.*`)."""
    if not text or not text.strip():
        return None
    fields = {**_FIELDS, **_KIND_FIELDS.get(kind, {})}
    checks: list[Predicate] = []
    for part in text.split(","):
        found = _EQ_TERM.match(part)
        if not found or found[1] not in fields:
            raise InvalidInput(
                f"fieldSelector {text!r}: {part.strip()!r} is not supported; "
                f"use {_either(sorted(fields))} with =, == or !=."
            )
        checks.append(_field_check(fields[found[1]], op=found[2], value=found[3]))
    return lambda obj: all(check(obj) for check in checks)


def _either(names: list[str]) -> str:
    return " or ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} or {names[-1]}"


def _field_check(get: Callable[[dict[str, Any]], str], *, op: str, value: str) -> Predicate:
    if op == "!=":
        return lambda obj: get(obj) != value
    return lambda obj: get(obj) == value


def combine(*predicates: Predicate | None) -> Predicate | None:
    present = [p for p in predicates if p is not None]
    if not present:
        return None
    return lambda obj: all(p(obj) for p in present)
