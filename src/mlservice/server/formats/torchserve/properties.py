"""TorchServe's `config.properties`: the keys a model store is served by.

A Java properties file (`key=value` or `key: value`, `#` and `!` comments, `\\` continuing a
line). Read here: `model_store`, `load_models` and `model_snapshot` (a JSON document naming each
model's `.mar` and its worker and batch settings). Everything else (addresses, workers' JVM
settings, tokens) belongs to TorchServe's frontend and has no meaning in `mls serve`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlservice.errors import ModelFormatError


@dataclass(frozen=True, slots=True)
class SnapshotModel:
    """One model of `model_snapshot`: its default (or only) version's settings."""

    name: str
    mar_name: str
    version: str | None = None
    min_workers: int = 1
    batch_size: int = 1
    max_batch_delay_ms: float = 100.0  # TorchServe's default maxBatchDelay
    response_timeout: float = 120.0  # TorchServe's default responseTimeout, seconds


@dataclass(frozen=True, slots=True)
class StoreConfig:
    model_store: str | None = None
    load_models: tuple[str, ...] = ()
    snapshot: tuple[SnapshotModel, ...] = ()


def parse_properties(text: str) -> dict[str, str]:
    """A properties file as a dict; the last of repeated keys wins, as in Java."""
    values: dict[str, str] = {}
    pending = ""
    for raw in text.splitlines():
        line = raw.strip() if not pending else raw.lstrip()
        if not pending and (not line or line[0] in "#!"):
            continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending += line[:-1]
            continue
        line, pending = pending + line, ""
        key, value = _split(line)
        values[key] = value
    if pending:
        key, value = _split(pending)
        values[key] = value
    return values


def _split(line: str) -> tuple[str, str]:
    cut = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
    if cut < 0:
        return line.strip(), ""
    return line[:cut].strip(), line[cut + 1 :].strip()


def read_config(path: Path) -> StoreConfig:
    values = parse_properties(path.read_text(encoding="utf-8"))
    load = values.get("load_models", "").strip()
    snapshot = values.get("model_snapshot")
    return StoreConfig(
        model_store=values.get("model_store") or None,
        load_models=tuple(item.strip() for item in load.split(",") if item.strip()),
        snapshot=_snapshot(snapshot, path=path) if snapshot else (),
    )


def _snapshot(text: str, *, path: Path) -> tuple[SnapshotModel, ...]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ModelFormatError(f"{path}: model_snapshot is not valid JSON ({exc}).") from exc
    models = document.get("models") if isinstance(document, dict) else None
    if not isinstance(models, dict):
        raise ModelFormatError(f'{path}: model_snapshot has no "models" object.')
    return tuple(_model(name, versions, path=path) for name, versions in models.items())


def _model(name: str, versions: Any, *, path: Path) -> SnapshotModel:
    if not isinstance(versions, dict) or not versions:
        raise ModelFormatError(f"{path}: model_snapshot model {name!r} lists no version.")
    chosen = [
        (v, s) for v, s in versions.items() if isinstance(s, dict) and s.get("defaultVersion")
    ]
    version, settings = chosen[0] if chosen else next(iter(versions.items()))
    if not isinstance(settings, dict) or not isinstance(settings.get("marName"), str):
        raise ModelFormatError(f"{path}: model_snapshot model {name!r} has no marName.")
    return SnapshotModel(
        name=name,
        mar_name=settings["marName"],
        version=str(version),
        min_workers=_number(settings, "minWorkers", 1, name=name, path=path),
        batch_size=_number(settings, "batchSize", 1, name=name, path=path),
        max_batch_delay_ms=_number(settings, "maxBatchDelay", 100, name=name, path=path),
        response_timeout=_number(settings, "responseTimeout", 120, name=name, path=path),
    )


def _number(settings: dict[str, Any], key: str, default: int, *, name: str, path: Path) -> int:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ModelFormatError(
            f"{path}: model_snapshot model {name!r} has {key} {value!r}; "
            "expected a non-negative number."
        )
    return int(value)
