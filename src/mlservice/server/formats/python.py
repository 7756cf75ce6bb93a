"""Custom models: a `model.py` that defines one `mlservice.Model` subclass.

The class is built with the served name, plus whichever transformer settings its constructor
accepts by name (`predictor_host`, `predictor_protocol` or `protocol`, `predictor_host_header`),
so KServe-style constructors such as `__init__(self, name, predictor_host, protocol)` work.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from mlservice.errors import ModelFormatError
from mlservice.model import Model
from mlservice.server.formats.base import BuildOptions, Format

FILENAME = "model.py"


def load_class(path: Path) -> type[Model]:
    """Import `path` and return the one `Model` subclass it defines."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"mls_custom_model_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModelFormatError(f"Custom model file {path} cannot be imported.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    # Let model.py import helpers that sit next to it.
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ModelFormatError(
            f"Custom model file {path} failed to import: {type(exc).__name__}: {exc}."
        ) from exc
    found = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj) and issubclass(obj, Model) and obj.__module__ == module_name
    ]
    if len(found) != 1:
        names = ", ".join(sorted(c.__name__ for c in found)) or "none"
        raise ModelFormatError(
            f"Custom model file {path} must define exactly one mlservice.Model subclass "
            f"(found: {names})."
        )
    return found[0]


def _build(path: Path, options: BuildOptions) -> Model:
    cls = load_class(path)
    predictor = options.predictor
    offered: dict[str, Any] = {}
    if predictor is not None:
        offered = {
            "predictor_host": predictor.host,
            "predictor_protocol": predictor.protocol,
            "protocol": predictor.protocol,
            "predictor_host_header": predictor.host_header,
        }
    accepted = inspect.signature(cls.__init__).parameters
    kwargs = {k: v for k, v in offered.items() if k in accepted}
    try:
        model = cls(options.name, **kwargs)
    except Exception as exc:
        raise ModelFormatError(
            f"Custom model {cls.__name__} could not be constructed: {type(exc).__name__}: {exc}."
        ) from exc
    model.name = options.name
    if predictor is not None:
        _fill(model, "predictor_host", predictor.host)
        _fill(model, "predictor_protocol", predictor.protocol)
        _fill(model, "predictor_host_header", predictor.host_header)
    return model


def _fill(model: Model, attribute: str, value: Any) -> None:
    if getattr(model, attribute, None) is None:
        setattr(model, attribute, value)


FORMAT = Format(
    name="python",
    patterns="model.py with an mlservice.Model subclass",
    claims=lambda path: path.name == FILENAME,
    build=_build,
)
