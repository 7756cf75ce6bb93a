"""`mls serve --model-repository DIR`: one sub-folder per model, loaded and unloaded at run time.

Each sub-folder is one model, its format detected from its files (or named by its
`model-settings.json`). Models load at start (`--load-models all`, or some by name) or on their
first request (`none`); the V2 repository API loads and unloads them. With a memory budget,
loading a model first unloads the least recently used ones until it fits; a request to a model
the budget evicted loads it again. A model unloaded through the API stays unloaded until it is
loaded through the API (its requests get 503), as Triton's explicit model control does.

Loads and unloads run one at a time (one lock); a request for a model being loaded waits for it.
The hot path (`acquire` of a loaded model) is a dict lookup and a counter.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlservice.errors import MLServiceError, ModelFormatError, ModelNotFound, Unavailable
from mlservice.model import Model
from mlservice.server.dataplane import DataPlane, Serving
from mlservice.server.formats import FORMATS, BuildOptions, build_models, detect
from mlservice.server.formats.torchserve import store as torchserve_store
from mlservice.server.forward import PredictorConfig
from mlservice.server.repository import memory
from mlservice.server.repository.entries import (
    LOADING,
    READY,
    UNAVAILABLE,
    UNLOADING,
    IndexEntry,
)
from mlservice.server.repository.metrics import RepositoryMetrics
from mlservice.server.repository.settings import FILENAME, ModelSettings, read_settings

log = logging.getLogger("mlservice.server")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
ALL = "all"
NONE = "none"


@dataclass(frozen=True, slots=True)
class RepositoryConfig:
    root: Path
    load_at_start: tuple[str, ...] | None = None
    """Names to load at start; None loads every model, () none (all load on first request)."""
    max_memory: int | None = None
    """Bytes the loaded models may be charged together; None: no budget."""
    format: str | None = None
    """The format of folders whose settings name none (`mls serve --format`); None: detect."""
    predictor: PredictorConfig | None = None


def parse_load_models(text: str) -> tuple[str, ...] | None:
    """`--load-models`: `all` (None), `none` (()), or names separated by commas."""
    value = text.strip()
    if value.lower() == ALL:
        return None
    if value.lower() == NONE or not value:
        return ()
    return tuple(n.strip() for n in value.split(",") if n.strip())


@dataclass(slots=True)
class _Slot:
    """One model of the repository, loaded or not."""

    name: str
    folder: Path
    version: str = ""
    state: str = UNAVAILABLE
    reason: str = "not loaded"
    charge: int = 0
    last_used: int = 0
    held: bool = False
    """Unloaded through the API: requests do not load it again."""


class ModelRepository:
    """The models of one repository folder, loaded into `dataplane` as they are needed."""

    def __init__(
        self,
        config: RepositoryConfig,
        dataplane: DataPlane,
        *,
        on_started: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.dataplane = dataplane
        self.started = False
        """Whether the models to load at start have been tried (the server's readiness)."""
        self._on_started = on_started
        self._slots: dict[str, _Slot] = {}
        self._clock = 0
        self._lock = asyncio.Lock()
        self._metrics = RepositoryMetrics(dataplane.metrics.registry, limit=config.max_memory)
        if not config.root.is_dir():
            raise ModelFormatError(f"Model repository {config.root} is not a folder.")
        dataplane.repository = self
        self.scan()
        wanted = config.load_at_start or ()
        missing = [name for name in wanted if name not in self._slots]
        if missing:
            raise ModelNotFound(
                f"--load-models names {', '.join(missing)}, not in repository {config.root} "
                f"(models: {', '.join(self._slots) or 'none'})."
            )

    # -- what is there --------------------------------------------------------------------
    def scan(self) -> None:
        """Read the folder again: new sub-folders become models, gone ones that are not loaded
        are dropped (a loaded model serves until it is unloaded)."""
        found: dict[str, Path] = {}
        for folder in sorted(self.config.root.iterdir()):
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            name = _name_of(folder)
            if name is None:
                continue
            if name in found:
                log.warning("repository: %s and %s both name model %s; serving the first",
                            found[name], folder, name)  # fmt: skip
                continue
            found[name] = folder
        for name in [n for n, s in self._slots.items() if n not in found and s.state != READY]:
            del self._slots[name]
        for name, folder in found.items():
            slot = self._slots.get(name)
            if slot is None:
                self._slots[name] = _Slot(name, folder)
                self._metrics.known(name)
            elif slot.state != READY:
                slot.folder = folder

    def knows(self, name: str) -> bool:
        return name in self._slots

    def index(self, *, ready_only: bool = False) -> list[IndexEntry]:
        self.scan()
        return [
            IndexEntry(s.name, s.version, s.state, "" if s.state == READY else s.reason)
            for s in sorted(self._slots.values(), key=lambda s: s.name)
            if not ready_only or s.state == READY
        ]

    @property
    def used_bytes(self) -> int:
        return sum(s.charge for s in self._slots.values() if s.state == READY)

    # -- the request path -----------------------------------------------------------------
    async def acquire(self, name: str) -> None:
        """Mark `name` used; load it first when it is not loaded and nothing holds it off."""
        slot = self._slots.get(name)
        if slot is None:
            return  # not ours: the data plane answers (an alias, or 404)
        self._clock += 1
        slot.last_used = self._clock
        if slot.state == READY or slot.held:
            return
        await self._load(slot, trigger="request")

    # -- the repository API ---------------------------------------------------------------
    async def load(self, name: str) -> None:
        """Load `name`, or load it again (the new copy replaces the old once it is ready)."""
        slot = self._slot(name)
        slot.held = False
        self._clock += 1
        slot.last_used = self._clock
        await self._load(slot, trigger="api", again=True)

    async def unload(self, name: str) -> None:
        slot = self._slot(name)
        async with self._lock:
            slot.held = True
            if slot.state == READY:
                await self._unload(slot, reason="api")
            slot.reason = "unloaded"
        self.scan()  # a model whose folder is gone is forgotten once unloaded

    def _slot(self, name: str) -> _Slot:
        if name not in self._slots:
            self.scan()
        slot = self._slots.get(name)
        if slot is None:
            raise ModelNotFound(f"Model {name} is not served here.")
        return slot

    # -- start ----------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Load the models wanted at start in the background while the server runs."""
        task = asyncio.create_task(self._start())
        try:
            yield
        finally:
            task.cancel()

    async def _start(self) -> None:
        wanted = self.config.load_at_start
        names: Sequence[str] = list(self._slots) if wanted is None else wanted
        for name in names:
            slot = self._slots.get(name)
            if slot is None:
                continue
            with contextlib.suppress(MLServiceError):  # logged, and in the index
                await self._load(slot, trigger="start")
        self.started = True
        log.info("repository %s: %d of %d models loaded",
                 self.config.root, len(self.dataplane.model_names), len(self._slots))  # fmt: skip
        if self._on_started is not None:
            self._on_started()

    # -- load and unload ------------------------------------------------------------------
    async def _load(self, slot: _Slot, *, trigger: str, again: bool = False) -> None:
        async with self._lock:
            if slot.state == READY and not again:
                return  # loaded by whoever held the lock before
            previous = slot.state
            try:
                settings = read_settings(slot.folder)
                label = str(slot.folder / FILENAME)
                charge = settings.memory_bytes(label) or memory.folder_bytes(slot.folder)
                await self._make_room(slot, charge)
                slot.state, slot.reason = LOADING, "loading"
                model, rss = await self._build_and_load(slot, settings)
            except Exception as exc:
                error = _as_error(slot.name, exc)
                if previous == READY:
                    slot.state, slot.reason = READY, ""  # the old copy still serves
                else:
                    slot.state, slot.reason = UNAVAILABLE, error.message
                log.error("model %s failed to load: %s", slot.name, error.message)
                raise error from exc
            old = self.dataplane.model(slot.name) if previous == READY else None
            self.dataplane.register(model)
            if old is not None and old is not model:
                await old.aclose()
            slot.state, slot.reason, slot.charge = READY, "", charge
            slot.version = model.version or ""
            self._metrics.loaded(slot.name, trigger=trigger, charge=charge, used=self.used_bytes)
            log.info("model %s loaded (%s): charged %s, RSS +%s", slot.name, trigger,
                     memory.human(charge), memory.human(max(rss, 0)))  # fmt: skip

    async def _build_and_load(self, slot: _Slot, settings: ModelSettings) -> tuple[Model, int]:
        before = memory.rss_bytes()
        model = await asyncio.to_thread(self._build, slot, settings)
        if not await self.dataplane.load_model(model):
            await model.aclose()
            raise Unavailable(f"Model {slot.name} loaded but reports not ready.")
        return model, memory.rss_bytes() - before

    def _build(self, slot: _Slot, settings: ModelSettings) -> Model:
        forced = settings.format or self.config.format
        detected = detect(slot.folder, forced=forced)
        models = build_models(detected, BuildOptions(slot.name, self.config.predictor))
        if len(models) != 1:
            names = ", ".join(m.name for m in models)
            raise ModelFormatError(
                f"Model folder {slot.folder} holds {len(models)} models ({names}); a repository "
                "serves one model per folder."
            )
        (model,) = models
        model.name = slot.name
        if settings.parameters.version:
            model.version = settings.parameters.version
        if settings.batching is not None:
            serving = getattr(model, "serving", None)
            base = serving if isinstance(serving, Serving) else Serving()
            model.serving = dataclasses.replace(base, batching=settings.batching)  # type: ignore[attr-defined]
        return model

    async def _make_room(self, slot: _Slot, charge: int) -> None:
        """Unload least recently used models until `charge` fits the budget beside the rest."""
        limit = self.config.max_memory
        if limit is None:
            return
        if charge > limit:
            raise Unavailable(
                f"Model {slot.name} needs {memory.human(charge)}, more than "
                f"--max-models-memory ({memory.human(limit)})."
            )
        others = [s for s in self._slots.values() if s.state == READY and s is not slot]
        used = sum(s.charge for s in others)
        for victim in sorted(others, key=lambda s: s.last_used):
            if used + charge <= limit:
                break
            log.info("model %s evicted to fit %s under the memory budget", victim.name, slot.name)
            used -= victim.charge
            await self._unload(victim, reason="evicted")
            victim.reason = f"evicted to fit {slot.name} in --max-models-memory"

    async def _unload(self, slot: _Slot, *, reason: str) -> None:
        slot.state, slot.reason = UNLOADING, "unloading"
        await self.dataplane.unregister(slot.name)
        slot.state, slot.reason, slot.charge = UNAVAILABLE, "unloaded", 0
        # Models loaded at start sit in the frozen heap (runner.freeze_heap), out of reach of
        # the collector; a model's reference cycles would otherwise never be freed.
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        memory.release_freed_memory()
        self._metrics.unloaded(slot.name, reason=reason, used=self.used_bytes)


def is_repository(path: Path) -> bool:
    """A folder with no model file of its own whose sub-folders hold models: what `mls serve
    DIR` serves as a repository without `--model-repository` (a platform's modelUri)."""
    if not path.is_dir() or torchserve_store.is_store(path):
        return False
    entries = [p for p in path.iterdir() if not p.name.startswith(".")]
    if any(p.is_file() and _claimed(p) for p in entries):
        return False
    return any(p.is_dir() and _holds_model(p) for p in entries)


def _holds_model(folder: Path) -> bool:
    if (folder / FILENAME).is_file() or torchserve_store.is_store(folder):
        return True
    return any(p.is_file() and _claimed(p) for p in folder.iterdir())


def _claimed(path: Path) -> bool:
    return any(f.claims(path) for f in FORMATS.values())


def _name_of(folder: Path) -> str | None:
    try:
        name = read_settings(folder).name or folder.name
    except ModelFormatError as exc:
        log.warning("repository: %s", exc.message)
        name = folder.name  # listed, and its load says what is wrong
    if NAME.match(name) is None:
        log.warning("repository: skipping %s: %r is not a model name", folder, name)
        return None
    return name


def _as_error(name: str, exc: Exception) -> MLServiceError:
    if isinstance(exc, MLServiceError):
        return exc
    return ModelFormatError(f"Model {name} failed to load: {type(exc).__name__}: {exc}.")
