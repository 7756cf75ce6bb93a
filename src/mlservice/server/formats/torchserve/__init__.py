"""TorchServe model archives (`.mar`) and model stores, served natively (format `torchserve`).

`store.py` decides which archives a folder holds and under which names, `archive.py` opens
them safely, `manifest.py` reads `MAR-INF/MANIFEST.json`, `handlers.py` finds and loads the
handler, `context.py` is the handler's `context`, `envelopes.py` maps V1, V2 and TorchServe's
own API onto handler batches, and `ts_compat/` is a `ts` package for handlers when TorchServe
is not installed (`imports.py` decides). Archives are checked and extracted, and handler files
found, before the server binds its port; handlers are imported and initialized at load.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
from pathlib import Path

from mlservice.errors import ModelFormatError
from mlservice.model import Model
from mlservice.server.formats.base import BuildOptions, Format
from mlservice.server.formats.torchserve import archive, handlers, store
from mlservice.server.formats.torchserve.manifest import read_manifest
from mlservice.server.formats.torchserve.model import TorchServeModel

log = logging.getLogger("mlservice.server.torchserve")
NAME = "torchserve"


def build_all(path: Path, options: BuildOptions) -> list[Model]:
    """Every model the store (or `.mar`) at `path` serves. With one model, `options.name`
    also answers for it, so a platform that names the service still reaches the model."""
    wanted = store.wanted(path)
    scratch = Path(tempfile.mkdtemp(prefix="mls-torchserve-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    models: list[TorchServeModel] = []
    for item in wanted:
        folder = archive.extract(item.archive, scratch)
        manifest = read_manifest(folder, label=str(item.archive))
        ref = handlers.resolve(manifest.handler, folder, label=str(item.archive))
        name = item.name or manifest.model_name
        models.append(
            TorchServeModel(
                name,
                archive=item.archive,
                model_dir=folder,
                manifest=manifest,
                handler=ref,
                settings=item.settings,
            )
        )
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ModelFormatError(f"Model store {path} serves two models under one name: {names}.")
    if len(models) == 1 and options.name != models[0].name:
        models[0].serving = models[0].serving.with_alias(options.name)
    elif options.name not in names:
        log.info("model store %s: serving %s by their own names", path, ", ".join(names))
    return list(models)


def _build_one(path: Path, options: BuildOptions) -> Model:
    return build_all(path, options)[0]


FORMAT = Format(
    name=NAME,
    patterns="*.mar, model-store/ with config/config.properties (TorchServe)",
    claims=lambda path: path.suffix == archive.SUFFIX,
    build=_build_one,
)
