"""The handler's `context`: TorchServe's `Context` methods over one batch's requests."""

from __future__ import annotations

from mlservice.server.formats.torchserve.context import Context, RequestProcessor


def context() -> Context:
    manifest = {"model": {"modelName": "m", "handler": "h.py"}}
    return Context("m", "/models/m", manifest, 4, None, "0.12.0")


def test_properties_handlers_read_at_load() -> None:
    ctx = context()
    assert ctx.system_properties["model_dir"] == "/models/m"
    assert ctx.system_properties["batch_size"] == 4
    assert ctx.system_properties["gpu_id"] is None
    assert ctx.manifest["model"]["modelName"] == "m"
    assert ctx.model_yaml_config == {}  # never None: TorchServe's @timed tests membership


def test_per_request_headers_and_statuses() -> None:
    ctx = context()
    ctx.request_processor = [RequestProcessor({"x-a": "1"}), RequestProcessor({"x-a": "2"})]
    ctx.request_ids = {0: "r0", 1: "r1"}
    assert [ctx.get_request_header(i, "X-A") for i in (0, 1)] == ["1", "2"]
    assert ctx.get_request_id(1) == "r1"
    ctx.set_response_status(404, "gone", idx=1)
    ctx.set_response_content_type(0, "text/csv")
    ctx.set_response_header(0, "x-b", "3")
    assert ctx.get_response_status(0) == (200, None)
    assert ctx.get_response_status(1) == (404, "gone")
    assert ctx.get_response_headers(0) == {"content-type": "text/csv", "x-b": "3"}
    ctx.set_all_response_status(503, "busy")
    assert [ctx.get_response_status(i) for i in (0, 1)] == [(503, "busy"), (503, "busy")]


def test_metrics_both_apis() -> None:
    metrics = context().metrics
    metrics.add_counter("Rows", 2)
    metrics.add_counter("Rows", 3)
    metrics.add_time("Took", 1.5)
    metric = metrics.add_metric_to_cache("Size", unit="count", dimension_names=["model"])
    metric.add_or_update(7, dimension_values=["m"])
    assert metrics.get_metric("Rows").value == 5
    assert (metrics.get_metric("Took").value, metrics.get_metric("Took").unit) == (1.5, "ms")
    assert metrics.get_metric("Size").dimension_values == ["m"]
