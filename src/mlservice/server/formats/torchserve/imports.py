"""Which `ts` a handler imports: TorchServe's own when installed, else ours (`ts_compat`).

TorchServe's `ts` (PyPI `torchserve`, the `torchserve` extra) is preferred when present:
handlers that reach into its internals get exactly what they were written against. Without it,
an import hook makes `ts` and every `ts.*` module the same module objects as `ts_compat`'s, so
`ts.torch_handler.base_handler.BaseHandler` is one class whichever name imported it.
`MLS_TORCHSERVE_TS=compat` uses ours even when TorchServe is installed (`real` requires it).
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


def use_ts() -> str:
    """Make `ts` importable for handlers; returns which one: "torchserve" or "compat"."""
    choice = os.environ.get(CHOICE_ENV, "auto")
    if any(isinstance(finder, _Alias) for finder in sys.meta_path):
        return "compat"
    installed = "ts" in sys.modules or importlib.util.find_spec("ts") is not None
    if choice == "real" and not installed:
        raise ModelFormatError(
            f"{CHOICE_ENV}=real but TorchServe's ts package is not installed "
            "(pip install 'mlservice[torchserve]')."
        )
    if installed and choice != "compat":
        return "torchserve"
    for name in [n for n in sys.modules if n == "ts" or n.startswith("ts.")]:
        del sys.modules[name]  # a real ts imported earlier must not shadow ours
    sys.meta_path.insert(0, _Alias())
    return "compat"
