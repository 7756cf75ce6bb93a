"""Which format a model folder holds, decided from its files before anything is imported.

A TorchServe store is recognised by its layout rather than by one file: a `.mar` file, a
folder with `model-store/`, or a folder holding `*.mar` archives (see `torchserve/store.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlservice.errors import ModelFormatError
from mlservice.model import Model
from mlservice.server.formats import lightgbm, onnx, python, sklearn, torch, torchserve, xgboost
from mlservice.server.formats.base import BuildOptions, Format

FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        python.FORMAT,
        sklearn.FORMAT,
        xgboost.FORMAT,
        lightgbm.FORMAT,
        onnx.FORMAT,
        torch.FORMAT,
        torchserve.FORMAT,
    )
}
ALIASES = {"torch": "pytorch", "custom": "python", "scikit-learn": "sklearn"}


@dataclass(frozen=True, slots=True)
class Detected:
    format: Format
    path: Path  # the one model file the format claimed


def detect(model_dir: Path, *, forced: str | None = None) -> Detected:
    """The format and file to load, or a ModelFormatError listing what was seen and supported."""
    if not model_dir.exists():
        raise ModelFormatError(f"Model path {model_dir} does not exist.")
    if forced in (None, torchserve.NAME) and _torchserve_layout(model_dir):
        return Detected(torchserve.FORMAT, model_dir)
    files = _files(model_dir)
    candidates = [FORMATS[_resolve(forced)]] if forced else list(FORMATS.values())
    claims = {f.name: [p for p in files if f.claims(p)] for f in candidates}
    claims = {name: paths for name, paths in claims.items() if paths}
    if python.FORMAT.name in claims:
        # A model.py is the code that loads whatever weights sit beside it.
        claims = {python.FORMAT.name: claims[python.FORMAT.name]}
    if len(claims) != 1 or len(next(iter(claims.values()))) != 1:
        raise ModelFormatError(_explain(model_dir, files, claims, forced=forced))
    name, (path,) = next(iter(claims.items()))
    return Detected(FORMATS[name], path)


def build_model(detected: Detected, options: BuildOptions) -> Model:
    return detected.format.build(detected.path, options)


def build_models(detected: Detected, options: BuildOptions) -> list[Model]:
    """Every model to serve: one, except for a TorchServe store holding several."""
    if detected.format is torchserve.FORMAT:
        return torchserve.build_all(detected.path, options)
    return [build_model(detected, options)]


def _torchserve_layout(model_dir: Path) -> bool:
    # model.py is the code that loads whatever sits beside it, archives included.
    return torchserve.store.is_store(model_dir) and not (model_dir / python.FILENAME).is_file()


def _resolve(name: str) -> str:
    resolved = ALIASES.get(name, name)
    if resolved not in FORMATS:
        raise ModelFormatError(
            f"Model format {name!r} is not supported (supported: {', '.join(FORMATS)})."
        )
    return resolved


def _files(model_dir: Path) -> list[Path]:
    if model_dir.is_file():
        return [model_dir]
    return sorted(p for p in model_dir.iterdir() if p.is_file() and not p.name.startswith("."))


def _explain(
    model_dir: Path, files: list[Path], claims: dict[str, list[Path]], *, forced: str | None
) -> str:
    seen = ", ".join(p.name for p in files) or "no files"
    supported = "; ".join(f"{f.name} ({f.patterns})" for f in FORMATS.values())
    if not claims:
        what = f"no {_resolve(forced)} model file" if forced else "no model file of a known format"
    else:
        found = ", ".join(f"{n}: {', '.join(p.name for p in ps)}" for n, ps in claims.items())
        what = f"an ambiguous set of model files ({found}); pass --format or keep one"
    return f"Model path {model_dir} holds {what}; files seen: {seen}; supported: {supported}."
