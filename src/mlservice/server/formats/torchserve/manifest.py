"""`MAR-INF/MANIFEST.json`: what a TorchServe archive says about its model.

torch-model-archiver writes `{"runtime", "model": {"modelName", "serializedFile", "handler",
"modelFile", "modelVersion", "extensions", "requirementsFile", "configFile"}, ...}`; only
`modelName` and `handler` are always there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlservice.errors import ModelFormatError

MANIFEST = "MAR-INF/MANIFEST.json"


@dataclass(frozen=True, slots=True)
class Manifest:
    model_name: str
    handler: str
    serialized_file: str | None = None
    model_file: str | None = None
    model_version: str | None = None
    extensions: str | None = None
    requirements_file: str | None = None
    config_file: str | None = None
    document: dict[str, Any] = field(default_factory=dict)
    """The whole manifest, as handlers read it from `context.manifest`."""


def read_manifest(model_dir: Path, *, label: str) -> Manifest:
    """The manifest of the archive extracted at `model_dir`; `label` names the archive."""
    path = model_dir / MANIFEST
    if not path.is_file():
        raise ModelFormatError(f"Archive {label} has no {MANIFEST}; is it a TorchServe .mar?")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"Archive {label}: {MANIFEST} is not valid JSON ({exc}).") from exc
    model = document.get("model") if isinstance(document, dict) else None
    if not isinstance(model, dict):
        raise ModelFormatError(f'Archive {label}: {MANIFEST} has no "model" object.')
    name, handler = model.get("modelName"), model.get("handler")
    if not isinstance(name, str) or not name:
        raise ModelFormatError(f'Archive {label}: {MANIFEST} has no "modelName".')
    if not isinstance(handler, str) or not handler:
        raise ModelFormatError(f'Archive {label}: {MANIFEST} has no "handler".')
    manifest = Manifest(
        model_name=name,
        handler=handler,
        serialized_file=_text(model, "serializedFile"),
        model_file=_text(model, "modelFile"),
        model_version=_text(model, "modelVersion"),
        extensions=_text(model, "extensions"),
        requirements_file=_text(model, "requirementsFile"),
        config_file=_text(model, "configFile"),
        document=document,
    )
    _check_files(model_dir, manifest, label=label)
    return manifest


def _text(model: dict[str, Any], key: str) -> str | None:
    value = model.get(key)
    return None if value in (None, "") else str(value)


def _check_files(model_dir: Path, manifest: Manifest, *, label: str) -> None:
    """Every file the manifest names is in the archive: a missing one is a load error now,
    not an exception in the handler at its first request."""
    named = {
        "serializedFile": manifest.serialized_file,
        "modelFile": manifest.model_file,
        "requirementsFile": manifest.requirements_file,
        "configFile": manifest.config_file,
    }
    for key, name in named.items():
        if name is not None and not (model_dir / name).is_file():
            raise ModelFormatError(
                f"Archive {label}: {MANIFEST} names {key} {name!r}, which is not in the archive."
            )
