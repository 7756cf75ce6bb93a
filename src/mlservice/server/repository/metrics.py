"""Per-model repository metrics, on the server's registry beside the request metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class RepositoryMetrics:
    def __init__(self, registry: CollectorRegistry, *, limit: int | None) -> None:
        self._ready = Gauge(
            "mls_model_ready", "1 while the model is loaded and ready.", ("model",),
            registry=registry,
        )  # fmt: skip
        self._memory = Gauge(
            "mls_model_memory_bytes",
            "What the loaded model is charged against --max-models-memory.",
            ("model",),
            registry=registry,
        )
        self._loads = Counter(
            "mls_model_loads",
            "Model loads, by what asked: start, request (load on demand) or api.",
            ("model", "trigger"),
            registry=registry,
        )
        self._unloads = Counter(
            "mls_model_unloads",
            "Model unloads, by why: api or evicted (the memory budget).",
            ("model", "reason"),
            registry=registry,
        )
        self._used = Gauge(
            "mls_repository_memory_bytes",
            "Sum of what the loaded models are charged.",
            registry=registry,
        )
        if limit is not None:
            Gauge(
                "mls_repository_memory_limit_bytes",
                "--max-models-memory.",
                registry=registry,
            ).set(limit)

    def loaded(self, model: str, *, trigger: str, charge: int, used: int) -> None:
        self._ready.labels(model).set(1)
        self._memory.labels(model).set(charge)
        self._loads.labels(model, trigger).inc()
        self._used.set(used)

    def unloaded(self, model: str, *, reason: str, used: int) -> None:
        self._ready.labels(model).set(0)
        self._memory.labels(model).set(0)
        self._unloads.labels(model, reason).inc()
        self._used.set(used)

    def known(self, model: str) -> None:
        self._ready.labels(model)  # listed at 0 before its first load
