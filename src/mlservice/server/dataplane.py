"""The protocol-agnostic data plane: model registry, health, metadata, and the inference pipeline.

REST and gRPC adapters decode their wire format, call in here, and encode what comes back; no
protocol detail lives below this line. A request runs `preprocess -> predict -> postprocess`;
sync methods run on the inference thread (all three in one hop when nothing is batched), async
ones on the event loop, and `predict` goes through the batcher when batching is on.

A model may carry `serving` (a `Serving`): names it also answers to, its own batch settings
(used when the server's `--max-batch-size` is off) and a time limit per request. TorchServe
archives use it for their `config.properties` settings.

With a model repository attached (`mls serve --model-repository`), models come and go while the
server runs: a request for a repository model that is not loaded (lazy, or evicted by the memory
budget) loads it first, and every request marks its model as used for the LRU order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlservice._version import __version__
from mlservice.errors import InferenceError, MLServiceError, ModelNotFound, Unavailable
from mlservice.model import Model
from mlservice.server.batching import Batcher
from mlservice.server.executor import InferenceThread
from mlservice.server.metrics import ServerMetrics
from mlservice.server.types import ModelMetadata

if TYPE_CHECKING:
    from mlservice.server.repository.store import ModelRepository

Headers = Mapping[str, str]
log = logging.getLogger("mlservice.server")
EXTENSIONS = ("binary_tensor_data",)


@dataclass(frozen=True, slots=True)
class BatchSettings:
    max_size: int
    max_delay_seconds: float


@dataclass(frozen=True, slots=True)
class Serving:
    """Per-model serving settings a model may carry as its `serving` attribute."""

    aliases: tuple[str, ...] = ()
    """Other names the model answers to (not listed among the served models)."""
    batching: BatchSettings | None = None
    """Batch settings of this model, used when the server's are off."""
    timeout: float | None = None
    """Seconds a request may take; past it the answer is 503 (the work is not interrupted)."""

    def with_alias(self, name: str) -> Serving:
        return dataclasses.replace(self, aliases=(*self.aliases, name))


@dataclass(slots=True)
class _Stage:
    """One overridable model method: bound, with whether it must be awaited."""

    call: Callable[..., Any]
    is_async: bool

    @classmethod
    def of(cls, model: Model, name: str) -> _Stage | None:
        """None when the model keeps the base class's pass-through (the call is skipped)."""
        if name in ("preprocess", "postprocess") and getattr(type(model), name) is getattr(
            Model, name
        ):
            return None
        call = getattr(model, name)
        return cls(call, inspect.iscoroutinefunction(call))


@dataclass(slots=True)
class _Entry:
    model: Model
    pre: _Stage | None
    predict: _Stage
    explain: _Stage
    post: _Stage | None
    batcher: Batcher | None = None
    timeout: float | None = None

    @property
    def fused(self) -> bool:
        """Whole pipeline on the inference thread in one hop."""
        stages = (self.pre, self.predict, self.post)
        return self.batcher is None and not any(s is not None and s.is_async for s in stages)


class DataPlane:
    def __init__(
        self,
        *,
        metrics: ServerMetrics | None = None,
        batching: BatchSettings | None = None,
        server_name: str = "mlservice",
    ) -> None:
        self.metrics = metrics or ServerMetrics()
        self.server_name = server_name
        self._batching = batching
        self._thread = InferenceThread()
        self._models: dict[str, _Entry] = {}
        self._aliases: dict[str, str] = {}
        self.repository: ModelRepository | None = None
        """Set by the repository that loads models into this data plane, if any."""

    # -- registry and health --------------------------------------------------------------
    def register(self, model: Model) -> None:
        entry = _Entry(
            model=model,
            pre=_Stage.of(model, "preprocess"),
            predict=_must(_Stage.of(model, "predict")),
            explain=_must(_Stage.of(model, "explain")),
            post=_Stage.of(model, "postprocess"),
        )
        serving = getattr(model, "serving", None)
        if not isinstance(serving, Serving):
            serving = Serving()
        entry.timeout = serving.timeout
        batching = self._batching or serving.batching
        if batching is not None:
            name = model.name
            entry.batcher = Batcher(
                lambda payload, headers: self._run(entry, entry.predict, payload, headers),
                max_size=batching.max_size,
                max_delay=batching.max_delay_seconds,
                observe=lambda rows: self.metrics.observe_batch(name, rows),
            )
        self._models[model.name] = entry
        for alias in serving.aliases:
            if alias not in self._models:
                self._aliases[alias] = model.name

    async def unregister(self, name: str) -> Model | None:
        """Stop serving `name` (requests in flight finish); the model it served, if any."""
        entry = self._models.pop(name, None)
        if entry is None:
            return None
        for alias in [a for a, target in self._aliases.items() if target == name]:
            del self._aliases[alias]
        entry.model.ready = False
        await entry.model.aclose()
        return entry.model

    @property
    def model_names(self) -> list[str]:
        return list(self._models)

    def serves(self, name: str) -> bool:
        if name in self._models or name in self._aliases:
            return True
        return self.repository is not None and self.repository.knows(name)

    def live(self) -> bool:
        return True

    def ready(self) -> bool:
        if self.repository is not None:
            return self.repository.started
        return bool(self._models) and all(e.model.ready for e in self._models.values())

    def model_ready(self, name: str, version: str | None = None) -> bool:
        if self._unloaded(name):
            return False
        return bool(self._entry(name, version).model.ready)

    def server_metadata(self) -> dict[str, Any]:
        return {"name": self.server_name, "version": __version__, "extensions": list(EXTENSIONS)}

    def model_metadata(self, name: str, version: str | None = None) -> dict[str, Any]:
        model = self._entry(name, version).model
        meta = model.metadata() if model.ready else ModelMetadata()
        return {
            "name": model.name,
            "versions": [model.version] if model.version else [],
            "platform": meta.platform,
            "inputs": [spec.to_dict() for spec in meta.inputs],
            "outputs": [spec.to_dict() for spec in meta.outputs],
        }

    def model(self, name: str, version: str | None = None) -> Model:
        return self._entry(name, version).model

    def _unloaded(self, name: str) -> bool:
        """A repository model that is not loaded now."""
        if name in self._models or name in self._aliases:
            return False
        return self.repository is not None and self.repository.knows(name)

    def _entry(self, name: str, version: str | None = None) -> _Entry:
        entry = self._models.get(name) or self._models.get(self._aliases.get(name, ""))
        if entry is None:
            if self._unloaded(name):
                raise Unavailable(f"Model {name} is not loaded.")
            raise ModelNotFound(f"Model {name} is not served here.")
        declared = entry.model.version
        if version is not None and declared is not None and version != declared:
            raise ModelNotFound(f"Model {name} has no version {version}.")
        return entry

    # -- lifecycle ------------------------------------------------------------------------
    async def load(self, name: str) -> bool:
        """Load on the inference thread (or the loop, when async); record the time it took."""
        return await self.load_model(self._entry(name).model)

    async def load_model(self, model: Model) -> bool:
        """`load` for a model that need not be registered yet (a repository registers it after)."""
        if model.ready:  # a KServe-style model that loads itself in __init__
            return True
        started = time.perf_counter()
        if inspect.iscoroutinefunction(model.load):
            result = await model.load()
        else:
            result = await self._thread.submit(model.load)
        model.ready = result is not False
        self.metrics.observe_load(model.name, time.perf_counter() - started)
        return model.ready

    async def stop(self) -> None:
        for entry in self._models.values():
            await entry.model.aclose()
        self._thread.stop()

    # -- inference ------------------------------------------------------------------------
    async def infer(
        self, name: str, payload: Any, headers: Headers, *, version: str | None = None
    ) -> Any:
        """preprocess -> predict (batched when on) -> postprocess, for one request."""
        if self.repository is not None:
            await self.repository.acquire(name)
        entry = self._ready_entry(name, version)
        if entry.timeout is None:
            return await self._infer(entry, payload, headers)
        try:
            async with asyncio.timeout(entry.timeout):  # no extra task, unlike wait_for
                return await self._infer(entry, payload, headers)
        except TimeoutError:
            raise Unavailable(
                f"Model {entry.model.name} did not answer within {entry.timeout:g} seconds."
            ) from None

    async def _infer(self, entry: _Entry, payload: Any, headers: Headers) -> Any:
        if entry.fused:
            return await self._run_sync(entry, self._pipeline, entry, payload, headers)
        if entry.pre is not None:
            payload = await self._run(entry, entry.pre, payload, headers)
        if entry.batcher is not None:
            result = await entry.batcher.submit(payload, headers)
        else:
            result = await self._run(entry, entry.predict, payload, headers)
        if entry.post is not None:
            result = await self._run(entry, entry.post, result, headers)
        return result

    async def explain(self, name: str, payload: Any, headers: Headers) -> Any:
        if self.repository is not None:
            await self.repository.acquire(name)
        entry = self._ready_entry(name, None)
        if entry.pre is not None:
            payload = await self._run(entry, entry.pre, payload, headers)
        result = await self._run(entry, entry.explain, payload, headers)
        if entry.post is not None:
            result = await self._run(entry, entry.post, result, headers)
        return result

    def _ready_entry(self, name: str, version: str | None) -> _Entry:
        entry = self._entry(name, version)
        if not entry.model.ready:
            raise Unavailable(f"Model {name} is not ready.")
        return entry

    @staticmethod
    def _pipeline(entry: _Entry, payload: Any, headers: Headers) -> Any:
        if entry.pre is not None:
            payload = entry.pre.call(payload, headers)
        result = entry.predict.call(payload, headers)
        return result if entry.post is None else entry.post.call(result, headers)

    async def _run(self, entry: _Entry, stage: _Stage, payload: Any, headers: Headers) -> Any:
        if stage.is_async:
            try:
                return await stage.call(payload, headers)
            except MLServiceError:
                raise
            except Exception as exc:
                raise _model_failed(entry.model.name, exc) from exc
        return await self._run_sync(entry, stage.call, payload, headers)

    async def _run_sync(self, entry: _Entry, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return await self._thread.submit(fn, *args)
        except MLServiceError:
            raise
        except Exception as exc:
            raise _model_failed(entry.model.name, exc) from exc


def _must(stage: _Stage | None) -> _Stage:
    assert stage is not None  # predict and explain are never skipped
    return stage


def _model_failed(name: str, exc: Exception) -> InferenceError:
    log.warning("model %s raised", name, exc_info=exc)
    detail = str(exc) or "no message"
    return InferenceError(f"Model {name} failed: {type(exc).__name__}: {detail}")
