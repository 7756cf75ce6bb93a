"""A TorchServe model store: which archives to serve, under which names and settings.

Accepted layouts: one `.mar` file; a folder with `model-store/` (and optionally
`config/config.properties`, KServe's layout); a folder holding `*.mar` files (with an optional
`config.properties` beside them). With a `model_snapshot`, its models are served under its
names; else `load_models` (`all`, or `name=file.mar` / `file.mar` items); else every archive in
the store, each under its manifest's `modelName`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlservice.errors import ModelFormatError
from mlservice.server.formats.torchserve.archive import SUFFIX
from mlservice.server.formats.torchserve.properties import SnapshotModel, StoreConfig, read_config

STORE = "model-store"
CONFIGS = ("config/config.properties", "config.properties")


@dataclass(frozen=True, slots=True)
class Wanted:
    """One model to serve: its archive, and the name (None: the manifest's) and settings."""

    archive: Path
    name: str | None = None
    settings: SnapshotModel | None = None


def is_store(path: Path) -> bool:
    """Whether `path` is a `.mar`, or a folder in one of the layouts above."""
    if path.is_file():
        return path.suffix == SUFFIX
    if not path.is_dir():
        return False
    return (path / STORE).is_dir() or any(_archives(path))


def wanted(path: Path) -> list[Wanted]:
    if path.is_file():
        return [Wanted(path)]
    config = next((path / c for c in CONFIGS if (path / c).is_file()), None)
    settings = read_config(config) if config is not None else StoreConfig()
    store = _store_folder(path, settings)
    if settings.snapshot:
        return [Wanted(_archive(store, m.mar_name), m.name, m) for m in settings.snapshot]
    if settings.load_models and settings.load_models != ("all",):
        return [_load_item(store, item) for item in settings.load_models]
    found = [Wanted(archive) for archive in _archives(store)]
    if not found:
        raise ModelFormatError(f"Model store {store} holds no {SUFFIX} archive.")
    return found


def _store_folder(path: Path, settings: StoreConfig) -> Path:
    # KServe's config names the store as mounted in its pod (/mnt/models/model-store): a
    # model_store that is not here means the store beside the config.
    if settings.model_store and Path(settings.model_store).is_dir():
        return Path(settings.model_store)
    return path / STORE if (path / STORE).is_dir() else path


def _archives(folder: Path) -> list[Path]:
    """`*.mar` files, and folders holding an unpacked archive (`--archive-format no-archive`)."""
    return sorted(
        p
        for p in folder.iterdir()
        if (p.is_file() and p.suffix == SUFFIX) or (p / "MAR-INF" / "MANIFEST.json").is_file()
    )


def _archive(store: Path, name: str) -> Path:
    path = store / name
    if "/" in name or name in ("", ".", "..") or not path.exists():
        raise ModelFormatError(f"Model store {store} has no archive {name!r}.")
    return path


def _load_item(store: Path, item: str) -> Wanted:
    name, _, file = item.rpartition("=")
    return Wanted(_archive(store, file.strip()), name.strip() or None)
