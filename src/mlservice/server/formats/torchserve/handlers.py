"""Finding and loading an archive's handler, as TorchServe's model loader does.

`handler` in the manifest is `file.py`, `module`, or either with `:function`; a file shipped in
the archive wins, else a built-in name (`image_classifier`, ...). A module with the entry
function (default `handle`) is a function handler: `handle(None, context)` once at load, then
`handle(batch, context)`. Otherwise the module must define exactly one class, instantiated
once, with `initialize(context)` at load and its `handle` per batch. Built-in handlers are
always ours (`ts_compat`): the same answers without torchvision or captum.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from mlservice.errors import ModelFormatError
from mlservice.server.formats.torchserve.imports import COMPAT
from mlservice.server.formats.torchserve.ts_compat.utils.util import list_classes_from_module

BUILTINS = ("base_handler", "image_classifier", "text_classifier")
Entry = Callable[[Any, Any], Any]


@dataclass(frozen=True, slots=True)
class HandlerRef:
    """Where the handler comes from: a file in the archive, or a built-in module."""

    module: str
    function: str | None
    file: Path | None  # None: a built-in


@dataclass(frozen=True, slots=True)
class Handler:
    entry: Entry
    initialize: Callable[[Any], Any]
    kind: str  # "function" or the class name, for the log


def resolve(handler: str, model_dir: Path, *, label: str) -> HandlerRef:
    """The handler the manifest names, or a ModelFormatError naming the missing file."""
    module, _, function = handler.partition(":")
    stem = module.removesuffix(".py").rsplit("/", 1)[-1]
    file = model_dir / f"{stem}.py"
    if file.is_file():
        return HandlerRef(stem, function or None, file)
    if stem in BUILTINS and not module.endswith(".py"):
        return HandlerRef(stem, function or None, None)
    raise ModelFormatError(
        f"Archive {label}: handler file {stem}.py (manifest handler {handler!r}) is not in the "
        f"archive, and {stem!r} is not a built-in handler ({', '.join(BUILTINS)})."
    )


def load(ref: HandlerRef, *, model_dir: Path, label: str) -> Handler:
    """Import the handler module (the archive's folder on sys.path, for its siblings)."""
    if str(model_dir) not in sys.path:
        sys.path.insert(0, str(model_dir))
    module = _import(ref, model_dir=model_dir, label=label)
    function = ref.function or "handle"
    if hasattr(module, function):
        entry = getattr(module, function)
        return Handler(entry, lambda context: entry(None, context), "function")
    if ref.function is not None:
        raise ModelFormatError(f"Archive {label}: handler module has no function {function!r}.")
    classes = list_classes_from_module(module)
    if len(classes) != 1:
        names = ", ".join(c.__name__ for c in classes) or "none"
        raise ModelFormatError(
            f"Archive {label}: handler {_shown(ref)} must define a handle function or exactly "
            f"one class (found: {names})."
        )
    service = classes[0]()
    if not hasattr(service, "handle"):
        raise ModelFormatError(
            f"Archive {label}: handler class {classes[0].__name__} has no handle method."
        )
    initialize = getattr(service, "initialize", lambda context: None)
    return Handler(service.handle, initialize, classes[0].__name__)


def _import(ref: HandlerRef, *, model_dir: Path, label: str) -> ModuleType:
    if ref.file is None:
        return importlib.import_module(f"{COMPAT}.torch_handler.{ref.module}")
    # A unique name per archive: two archives' handler.py must not share one module.
    digest = hashlib.sha1(str(ref.file.resolve()).encode()).hexdigest()[:10]
    name = f"{ref.module}_mls_{digest}"
    spec = importlib.util.spec_from_file_location(name, ref.file)
    if spec is None or spec.loader is None:
        raise ModelFormatError(f"Archive {label}: handler file {ref.file.name} cannot be imported.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ModelFormatError(
            f"Archive {label}: handler file {ref.file.name} failed to import: "
            f"{type(exc).__name__}: {exc}."
        ) from exc
    return module


def _shown(ref: HandlerRef) -> str:
    return ref.file.name if ref.file is not None else ref.module
