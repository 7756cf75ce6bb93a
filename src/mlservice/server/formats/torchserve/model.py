"""A TorchServe archive served as an mlservice `Model`.

`preprocess` turns one request of any protocol into rows (`envelopes.py`), `predict` runs the
handler on a batch of rows (the batcher merges requests' rows; TorchServe's contract is a list
in, a list of as many answers out), and `postprocess` puts one request's answers back in its
envelope. The handler is imported and initialized in `load`, on the inference thread.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

from mlservice.errors import InferenceError, MLServiceError, ModelFormatError
from mlservice.model import Model
from mlservice.server.dataplane import BatchSettings, Serving
from mlservice.server.formats.torchserve import envelopes, handlers, imports
from mlservice.server.formats.torchserve.context import Context, RequestProcessor
from mlservice.server.formats.torchserve.manifest import Manifest
from mlservice.server.formats.torchserve.properties import SnapshotModel
from mlservice.server.types import ModelMetadata

log = logging.getLogger("mlservice.server.torchserve")


class TorchServeModel(Model):
    def __init__(
        self,
        name: str,
        *,
        archive: Path,
        model_dir: Path,
        manifest: Manifest,
        handler: handlers.HandlerRef,
        settings: SnapshotModel | None = None,
    ) -> None:
        super().__init__(name)
        self.archive = archive
        self.model_dir = model_dir
        self.manifest = manifest
        self.handler_ref = handler
        self.settings = settings
        self.version = (settings.version if settings else None) or manifest.model_version
        self.serving = _serving(settings)
        self.ts_package = ""  # which `ts` handlers import: "torchserve" or "compat"
        self._handler: handlers.Handler | None = None
        self._context: Context | None = None

    def load(self) -> bool:
        self.ts_package = imports.use_ts()
        label = str(self.archive)
        handler = handlers.load(self.handler_ref, model_dir=self.model_dir, label=label)
        context = Context(
            self.name,
            str(self.model_dir),
            self.manifest.document,
            self.settings.batch_size if self.settings else 1,
            None,
            _ts_version(),
            model_yaml_config=self._yaml_config(),
        )
        try:
            handler.initialize(context)
        except Exception as exc:
            raise ModelFormatError(
                f"Archive {label}: the handler's initialize failed: {type(exc).__name__}: {exc}"
            ) from exc
        self._handler, self._context = handler, context
        log.info(
            "model %s: %s handler %s (ts from %s)",
            self.name,
            handler.kind,
            self.manifest.handler,
            self.ts_package,
        )
        self.ready = True
        return True

    def metadata(self) -> ModelMetadata:
        return ModelMetadata(platform="torchserve")

    def preprocess(self, payload: Any, headers: Any = None) -> Any:
        return {"instances": envelopes.rows_of(payload, headers or {}, model=self.name)}

    def predict(self, payload: Any, headers: Any = None) -> Any:
        rows: list[envelopes.Row] = payload["instances"]
        assert self._handler is not None
        assert self._context is not None
        context = self._context
        processors = [RequestProcessor(row.headers) for row in rows]
        context.request_processor = processors
        context.request_ids = {i: uuid.uuid4().hex for i in range(len(rows))}
        try:
            answers = self._handler.entry([row.data for row in rows], context)
        except Exception as exc:
            chosen = _prediction_error(exc, model=self.name)
            if chosen is None:
                raise
            raise chosen from exc
        if not isinstance(answers, list) or len(answers) != len(rows):
            got = f"{len(answers)} answers" if isinstance(answers, list) else type(answers).__name__
            raise InferenceError(
                f"Model {self.name}: the handler returned {got} for a batch of {len(rows)} "
                "requests; TorchServe handlers return a list with one answer per request."
            )
        return {
            "predictions": [
                envelopes.Answer(
                    value,
                    row,
                    processor.get_response_status_code(),
                    processor.get_response_status_phrase(),
                    dict(processor.get_response_headers()),
                )
                for value, row, processor in zip(answers, rows, processors, strict=True)
            ]
        }

    def postprocess(self, result: Any, headers: Any = None) -> Any:
        answers: list[envelopes.Answer] = result["predictions"]
        return envelopes.respond(answers, model=self.name, version=self.version)

    def _yaml_config(self) -> dict[str, Any]:
        if self.manifest.config_file is None:
            return {}
        from mlservice.server.formats.torchserve.ts_compat.utils.util import get_yaml_config

        return get_yaml_config(str(self.model_dir / self.manifest.config_file))


def _serving(settings: SnapshotModel | None) -> Serving:
    if settings is None:
        return Serving()
    batching = None
    if settings.batch_size >= 2:
        batching = BatchSettings(settings.batch_size, settings.max_batch_delay_ms / 1000.0)
    timeout = float(settings.response_timeout) if settings.response_timeout > 0 else None
    return Serving(batching=batching, timeout=timeout)


def _prediction_error(exc: Exception, *, model: str) -> MLServiceError | None:
    """TorchServe's `PredictionException(message, error_code)`, from either `ts`."""
    if type(exc).__name__ != "PredictionException":
        return None
    code = getattr(exc, "error_code", 500)
    message = getattr(exc, "message", str(exc))
    return envelopes.status_error(code if isinstance(code, int) else 500, message, model=model)


def _ts_version() -> str:
    from mlservice.server.formats.torchserve import ts_compat

    return ts_compat.__version__
