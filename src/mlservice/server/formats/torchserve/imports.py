"""Which `ts` a handler imports: TorchServe's own, or ours (`ts_compat`).

`MLS_TORCHSERVE_TS` decides: `real` (TorchServe's; an error when it is not installed),
`compat` (ours, even when TorchServe's is installed), or `auto`, the default: TorchServe's when
it is installed together with what its built-in handlers import (torchvision, captum: PyPI
`torchserve` does not pull them in, so an install without them cannot run its vision or text
handlers), ours otherwise. Ours is put in place by an import hook that makes `ts` and every
`ts.*` module the very module objects of `ts_compat`, so `BaseHandler` is one class whichever
name imported it. The hook lives only in the serving process.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from mlservice.errors import ModelFormatError

COMPAT = "mlservice.server.formats.torchserve.ts_compat"
CHOICE_ENV = "MLS_TORCHSERVE_TS"
CHOICES = ("auto", "real", "compat")
REAL, OURS = "torchserve", "compat"
# What TorchServe's own vision and text handlers import beyond PyPI torchserve's dependencies.
HANDLER_DEPENDENCIES = ("torchvision", "captum")


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds `ts[.x]` as `ts_compat[.x]`, handing out the one module object."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "ts" and not fullname.startswith("ts."):
            return None
        real_name = COMPAT + fullname[2:]
        if importlib.util.find_spec(real_name) is None:
            return None
        is_package = hasattr(importlib.import_module(real_name), "__path__")
        return importlib.machinery.ModuleSpec(fullname, self, is_package=is_package)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(COMPAT + spec.name[2:])

    def exec_module(self, module: ModuleType) -> None:
        """Already executed under its own name."""


def choose(setting: str, *, installed: bool, complete: bool) -> str:
    """REAL or OURS for a `MLS_TORCHSERVE_TS` value, TorchServe being installed, and its
    handlers' dependencies being there too."""
    if setting not in CHOICES:
        raise ModelFormatError(f"{CHOICE_ENV}={setting!r} is not one of {', '.join(CHOICES)}.")
    if setting == "real" and not installed:
        raise ModelFormatError(
            f"{CHOICE_ENV}=real but TorchServe's ts package is not installed "
            "(pip install 'mlservice[torchserve]')."
        )
    if setting == "real" or (setting == "auto" and installed and complete):
        return REAL
    return OURS


def use_ts() -> str:
    """Make `ts` importable for handlers; returns which one (REAL or OURS)."""
    if any(isinstance(finder, _Alias) for finder in sys.meta_path):
        return OURS
    installed = "ts" in sys.modules or importlib.util.find_spec("ts") is not None
    complete = all(importlib.util.find_spec(name) for name in HANDLER_DEPENDENCIES)
    chosen = choose(os.environ.get(CHOICE_ENV, "auto"), installed=installed, complete=complete)
    if chosen == OURS:
        for name in [n for n in sys.modules if n == "ts" or n.startswith("ts.")]:
            del sys.modules[name]  # a real ts imported earlier must not shadow ours
        sys.meta_path.insert(0, _Alias())
    return chosen
