"""How `mls` prints: tables per kind, YAML/JSON, ages, and errors one line per cause."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

import typer
import yaml
from rich.console import Console
from rich.table import Table

from mlservice.client.manifests import error_lines
from mlservice.errors import MLServiceError

Obj = dict[str, Any]


def console() -> Console:
    # Piped output is parsed by scripts and tests: never wrap a row or fold a URL there.
    out = Console(highlight=False)
    return out if out.is_terminal else Console(highlight=False, width=250, no_color=True)


def fail(error: MLServiceError) -> NoReturn:
    """Print `error: ...` (one line per field cause) on stderr and exit 1."""
    for line in error_lines(error):
        typer.echo(line, err=True)
    raise typer.Exit(1)


def age(timestamp: str | None, *, now: datetime | None = None) -> str:
    """Kubernetes-style age: 45s, 12m, 5h, 3d."""
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "<unknown>"
    seconds = max(0, int(((now or datetime.now(UTC)) - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "m" else 1):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def dump(data: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip("\n")


# -- tables ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Obj], Any]
    wide_only: bool = False


def _get(obj: Obj, *path: str) -> Any:
    for part in path:
        obj = obj.get(part) if isinstance(obj, dict) else None  # type: ignore[assignment]
    return obj


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _lower(value: Any) -> Any:
    """Booleans as kubectl prints them (`true`), anything else as it is."""
    return str(value).lower() if isinstance(value, bool) else value


def _ready(obj: Obj) -> Any:
    ready = _get(obj, "status", "ready")
    if ready is not None:
        return ready
    for condition in _get(obj, "status", "conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status")
    return None


def _canary(obj: Obj) -> str:
    canary = _get(obj, "spec", "canary")
    if not canary:
        return ""
    return f"{canary} ({_get(obj, 'spec', 'canaryTrafficPercent') or 0}%)"


def _releases(obj: Obj) -> str:
    rows = _get(obj, "status", "releases") or []
    return " ".join(
        f"{r.get('name')}:{r.get('readyReplicas', 0)}/{r.get('totalReplicas', 0)}" for r in rows
    )


def _formats(obj: Obj) -> str:
    return ",".join(str(f.get("name")) for f in _get(obj, "spec", "supportedModelFormats") or [])


def _names(items: Any) -> str:
    return ",".join(str(item.get("name")) for item in items or [] if isinstance(item, dict))


def _condition(obj: Obj, kind: str) -> Any:
    for condition in _get(obj, "status", "conditions") or []:
        if condition.get("type") == kind:
            return condition.get("status")
    return None


def _traffic(obj: Obj, field: str, *, tag: str | None = None, latest: bool = False) -> Any:
    """A field of the predictor's traffic entry tagged `tag`, or of the latest revision's:
    KServe's printer columns PREV and LATEST."""
    for entry in _get(obj, "status", "components", "predictor", "traffic") or []:
        if not isinstance(entry, dict):
            continue
        if (tag is not None and entry.get("tag") == tag) or (
            latest and entry.get("latestRevision") is True
        ):
            return entry.get(field)
    return None


def _generation(obj: Obj) -> str:
    observed = _get(obj, "status", "observedGeneration")
    return f"{observed if observed is not None else '-'}/{_get(obj, 'metadata', 'generation')}"


_AGE = Column("AGE", lambda o: age(_get(o, "metadata", "creationTimestamp")))
_RUNTIME_COLUMNS = [
    Column("DISABLED", lambda o: _lower(_get(o, "spec", "disabled"))),
    Column("MODELTYPE", lambda o: _names(_get(o, "spec", "supportedModelFormats"))),
    Column("CONTAINERS", lambda o: _names(_get(o, "spec", "containers"))),
    _AGE,
]
COLUMNS: dict[str, list[Column]] = {
    "MLService": [
        Column("READY", _ready),
        Column("URL", lambda o: _get(o, "status", "address", "url")),
        Column("DEFAULT", lambda o: _get(o, "spec", "default")),
        Column("CANARY", _canary),
        _AGE,
        Column("RELEASES", _releases, wide_only=True),
        Column("GENERATION", _generation, wide_only=True),
    ],
    "SimpleMLService": [
        Column("READY", _ready),
        Column("DNS", lambda o: _get(o, "status", "address", "dns")),
        Column("REPLICAS", lambda o: _get(o, "spec", "replicas")),
        _AGE,
        Column("GENERATION", _generation, wide_only=True),
    ],
    "MLServiceRuntime": [
        Column("ENABLED", lambda o: _get(o, "spec", "enabled")),
        Column("FORMATS", _formats),
        _AGE,
    ],
    "Secret": [
        Column("TYPE", lambda o: o.get("type", "Opaque")),
        Column("DATA", lambda o: len(o.get("data") or {})),
        _AGE,
    ],
    "ServiceAccount": [
        Column("SECRETS", lambda o: len(o.get("secrets") or [])),
        _AGE,
    ],
    # KServe's additionalPrinterColumns; the two revision columns only with -o wide.
    "InferenceService": [
        Column("URL", lambda o: _get(o, "status", "url")),
        Column("READY", lambda o: _condition(o, "Ready")),
        Column("PREV", lambda o: _traffic(o, "percent", tag="prev")),
        Column("LATEST", lambda o: _traffic(o, "percent", latest=True)),
        Column("PREVROLLEDOUTREVISION", lambda o: _traffic(o, "revisionName", tag="prev"), True),
        Column("LATESTREADYREVISION", lambda o: _traffic(o, "revisionName", latest=True), True),
        _AGE,
    ],
    "ServingRuntime": _RUNTIME_COLUMNS,
    "ClusterServingRuntime": _RUNTIME_COLUMNS,
    "PersistentVolumeClaim": [
        Column("STATUS", lambda o: _get(o, "status", "phase")),
        Column("CAPACITY", lambda o: _get(o, "spec", "resources", "requests", "storage")),
        _AGE,
    ],
}


def table(
    kind: str, items: Sequence[Obj], *, wide: bool = False, namespaces: bool = False
) -> Table:
    columns = [c for c in COLUMNS.get(kind, [_AGE]) if wide or not c.wide_only]
    if namespaces:
        columns.insert(0, Column("NAMESPACE", lambda o: _get(o, "metadata", "namespace")))
    columns.insert(1 if namespaces else 0, Column("NAME", lambda o: _get(o, "metadata", "name")))
    grid = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in columns:
        grid.add_column(column.header, no_wrap=True, overflow="fold")
    for item in items:
        grid.add_row(*(_text(column.value(item)) for column in columns))
    return grid
