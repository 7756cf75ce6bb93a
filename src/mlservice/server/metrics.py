"""Prometheus metrics of one server, or of all `--workers` together in multiprocess mode.

prometheus_client picks its storage when it is imported: with `PROMETHEUS_MULTIPROC_DIR` set
(the worker supervisor sets it before starting workers) every process writes mmap files there
and any worker's `/metrics` aggregates them all.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class ServerMetrics:
    """Request count and latency by model, protocol and status; batch sizes; model load time."""

    def __init__(self) -> None:
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV)
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("model", "protocol", "status")
        self._requests = Counter(
            "mls_requests", "Inference requests answered.", labels, registry=self.registry
        )
        self._latency = Histogram(
            "mls_request_duration_seconds",
            "Time from request received to response ready.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._batch = Histogram(
            "mls_batch_size",
            "Rows per predict call (1 when a request runs alone).",
            ("model",),
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        # One series per live worker: each loads the model itself.
        self._load = Gauge(
            "mls_model_load_seconds",
            "Time the model's load() took.",
            ("model",),
            multiprocess_mode="liveall",
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe_request(self, model: str, protocol: str, status: int, seconds: float) -> None:
        key = (model, protocol, status)
        children = self._children.get(key)
        if children is None:
            labels = (model, protocol, str(status))
            children = (self._requests.labels(*labels), self._latency.labels(*labels))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_batch(self, model: str, rows: int) -> None:
        self._batch.labels(model).observe(rows)

    def observe_load(self, model: str, seconds: float) -> None:
        self._load.labels(model).set(seconds)

    def render(self) -> tuple[bytes, str]:
        if self.multiprocess_dir is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        merged = CollectorRegistry()
        collector: Any = _multiprocess.MultiProcessCollector  # untyped upstream
        collector(merged, path=self.multiprocess_dir)
        return generate_latest(merged), CONTENT_TYPE_LATEST


def mark_worker_dead(pid: int) -> None:
    """Drop a dead worker's live gauges (called by the supervisor)."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        mark_dead: Any = _multiprocess.mark_process_dead  # untyped upstream
        mark_dead(pid, directory)
