"""The `context` a TorchServe handler is given: the model's manifest and properties at load,
and per call the requests' headers and a place for each answer's status and headers.

Method names and signatures are TorchServe's (`ts.context.Context`), so handlers written for
it, and TorchServe's own `BaseHandler` when it is installed, run against this one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("mlservice.server.torchserve")


class RequestProcessor:
    """One request of a batch: its headers in, its status and headers out."""

    def __init__(self, request_header: Mapping[str, Any]) -> None:
        self._request_header = dict(request_header)
        self._status_code = 200
        self._reason_phrase: str | None = None
        self._response_header: dict[str, str] = {}

    def get_request_property(self, key: str) -> Any:
        return self._request_header.get(key, self._request_header.get(key.lower()))

    def get_request_properties(self) -> dict[str, Any]:
        return self._request_header

    def report_status(self, code: int, reason_phrase: str | None = None) -> None:
        self._status_code = code
        self._reason_phrase = reason_phrase

    def get_response_status_code(self) -> int:
        return self._status_code

    def get_response_status_phrase(self) -> str | None:
        return self._reason_phrase

    def add_response_property(self, key: str, value: str) -> None:
        self._response_header[key] = value

    def get_response_headers(self) -> dict[str, str]:
        return self._response_header

    def get_response_header(self, key: str) -> str | None:
        return self._response_header.get(key)


class Metric:
    """One handler metric: the latest value (a counter's total) and its dimensions."""

    def __init__(self, name: str, unit: str = "", dimension_names: list[str] | None = None) -> None:
        self.name = name
        self.unit = unit
        self.dimension_names = list(dimension_names or [])
        self.value = 0.0
        self.dimension_values: list[str] = []

    def add_or_update(
        self, value: float, dimension_values: list[str] | None = None, request_id: Any = None
    ) -> None:
        self.value = float(value)
        self.dimension_values = list(dimension_values or [])
        log.debug("handler metric %s=%s%s", self.name, value, self.unit)

    def update(self, value: float, request_id: Any = None, dimensions: Any = None) -> None:
        self.add_or_update(value)


class Metrics:
    """`context.metrics`, both of TorchServe's metric APIs (`add_time`, ... and
    `add_metric_to_cache` / `get_metric` with `add_or_update`). Values are kept (the latest per
    name, counters summed) and logged at debug level: TorchServe ships them to its metrics log,
    which `mls serve` does not have."""

    def __init__(self) -> None:
        self.cache: dict[str, Metric] = {}
        self.request_ids: Any = None

    def add_metric_to_cache(
        self, metric_name: str, unit: str = "", dimension_names: Any = None, **kwargs: Any
    ) -> Metric:
        metric = self.cache.get(metric_name)
        if metric is None:
            metric = self.cache[metric_name] = Metric(metric_name, unit, dimension_names)
        return metric

    def get_metric(self, metric_name: str, *args: Any, **kwargs: Any) -> Metric:
        return self.add_metric_to_cache(metric_name)

    def add_metric(
        self,
        name: str,
        value: float,
        unit: str = "",
        idx: Any = None,
        dimensions: Any = None,
        **kwargs: Any,
    ) -> Metric:
        metric = self.add_metric_to_cache(name, unit)
        metric.add_or_update(value, dimensions)
        return metric

    def add_time(
        self, name: str, value: float, idx: Any = None, unit: str = "ms", **kwargs: Any
    ) -> Metric:
        return self.add_metric(name, value, unit, idx, kwargs.get("dimensions"))

    def add_size(
        self, name: str, value: float, idx: Any = None, unit: str = "MB", **kwargs: Any
    ) -> Metric:
        return self.add_metric(name, value, unit, idx, kwargs.get("dimensions"))

    def add_percent(self, name: str, value: float, idx: Any = None, **kwargs: Any) -> Metric:
        return self.add_metric(name, value, "percent", idx, kwargs.get("dimensions"))

    def add_counter(self, name: str, value: float, idx: Any = None, **kwargs: Any) -> Metric:
        previous = self.cache[name].value if name in self.cache else 0.0
        return self.add_metric(name, previous + value, "count", idx, kwargs.get("dimensions"))

    def add_error(self, name: str, value: Any, **kwargs: Any) -> None:
        log.warning("handler error metric %s: %s", name, value)


class Context:
    """What TorchServe passes to `initialize(context)` and `handle(data, context)`."""

    def __init__(
        self,
        model_name: str,
        model_dir: str,
        manifest: dict[str, Any],
        batch_size: int,
        gpu: int | None,
        mms_version: str,
        limit_max_image_pixels: bool = True,
        metrics: Metrics | None = None,
        model_yaml_config: dict[str, Any] | None = None,
    ) -> None:
        self.model_name = model_name
        self.manifest = manifest
        self._system_properties: dict[str, Any] = {
            "model_dir": model_dir,
            "gpu_id": gpu,
            "batch_size": batch_size,
            "server_name": "MMS",
            "server_version": mms_version,
            "limit_max_image_pixels": limit_max_image_pixels,
        }
        self.request_ids: dict[int, str] | None = None
        self._request_processor: list[RequestProcessor] = []
        self.metrics = metrics or Metrics()
        # TorchServe's @timed decorator tests `"handler" in model_yaml_config`: never None.
        self.model_yaml_config: dict[str, Any] = model_yaml_config or {}
        self.started = time.monotonic()

    @property
    def system_properties(self) -> dict[str, Any]:
        return self._system_properties

    @property
    def request_processor(self) -> list[RequestProcessor]:
        return self._request_processor

    @request_processor.setter
    def request_processor(self, value: list[RequestProcessor]) -> None:
        self._request_processor = value

    def get_request_id(self, idx: int = 0) -> str | None:
        return None if self.request_ids is None else self.request_ids.get(idx)

    def get_request_header(self, idx: int, key: str) -> Any:
        return self._request_processor[idx].get_request_property(key)

    def get_all_request_header(self, idx: int) -> dict[str, Any]:
        return self._request_processor[idx].get_request_properties()

    def set_response_content_type(self, idx: int, value: str) -> None:
        self.set_response_header(idx, "content-type", value)

    def get_response_content_type(self, idx: int) -> str | None:
        return self.get_response_headers(idx).get("content-type")

    def get_response_status(self, idx: int) -> tuple[int, str | None]:
        processor = self._request_processor[idx]
        return processor.get_response_status_code(), processor.get_response_status_phrase()

    def set_response_status(self, code: int = 200, phrase: str = "", idx: int = 0) -> None:
        if idx < len(self._request_processor):
            self._request_processor[idx].report_status(code, reason_phrase=phrase)

    def set_all_response_status(self, code: int = 200, phrase: str = "") -> None:
        for processor in self._request_processor:
            processor.report_status(code, reason_phrase=phrase)

    def get_response_headers(self, idx: int) -> dict[str, str]:
        return self._request_processor[idx].get_response_headers()

    def set_response_header(self, idx: int, key: str, value: str) -> None:
        self._request_processor[idx].add_response_property(key, value)

    def get_sequence_id(self, idx: int) -> Any:
        return self._request_processor[idx].get_request_property("ts_request_sequence_id")
