"""The public `Model` base class for custom predictors and transformers.

Shaped like KServe's `kserve.Model` so a KServe custom model ports by changing its imports:
`name`, `ready`, `load()`, and `preprocess` / `predict` / `postprocess` / `explain`, each taking
`(payload, headers)` and each either sync or async. Sync methods run on the server's inference
thread, async ones on its event loop.

Payloads: a V1 request arrives as its JSON document (`{"instances": [...]}`), a V2 request as an
`InferRequest` (tensors already numpy arrays), and a body that is not JSON as raw `bytes` (its
content type is in `headers`). `predict` may return a dict (sent as is), a list or array (sent as
V1 `predictions` or a V2 output named `output-0`), or an `InferResponse`.

Errors: raise `mlservice.errors.InvalidInput` when the payload is wrong (the caller gets a 400
with your message); any other exception is a bug in the model and answers 500 with its type and
message, never a traceback (the traceback goes to the server's log).

`ModelServer().start([model])` serves models built in code, as KServe's `ModelServer` does, so a
KServe model file also runs on its own (`python model.py`); `mls serve DIR` imports `model.py`
without running its `__main__` block.

Transformer mode: when `predictor_host` is set (`mls serve --predictor-host`, or the
`PREDICTOR_HOST` env var), the default `predict` and `explain` forward the payload to that
predictor on the same path, so a transformer only overrides `preprocess` and `postprocess`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlservice.errors import NotImplementedByModel

if TYPE_CHECKING:  # kept out of `import mlservice`, which the CLI pays on every command
    from mlservice.server.forward import Forwarder
    from mlservice.server.types import ModelMetadata

Headers = Mapping[str, str]


class Model:
    """Subclass and override `load` and `predict` (a predictor) or `preprocess`/`postprocess`."""

    def __init__(
        self,
        name: str,
        predictor_host: str | None = None,
        *,
        predictor_protocol: str | None = None,
        predictor_host_header: str | None = None,
    ) -> None:
        self.name = name
        self.ready = False
        self.version: str | None = None
        self.predictor_host = predictor_host
        self.predictor_protocol = predictor_protocol
        self.predictor_host_header = predictor_host_header
        self._forwarder: Forwarder | None = None

    def load(self) -> bool:
        """Load weights; leaving `ready` False (or returning False) keeps the model unready."""
        self.ready = True
        return self.ready

    def metadata(self) -> ModelMetadata:
        """Inputs and outputs for V2 metadata; override when the model knows them."""
        from mlservice.server.types import ModelMetadata

        return ModelMetadata()

    def preprocess(self, payload: Any, headers: Headers | None = None) -> Any:
        return payload

    async def predict(self, payload: Any, headers: Headers | None = None) -> Any:
        if self.predictor_host:
            return await self._forward(payload, headers or {}, verb="predict")
        raise NotImplementedByModel(f"Model {self.name} does not implement predict.")

    def postprocess(self, result: Any, headers: Headers | None = None) -> Any:
        return result

    async def explain(self, payload: Any, headers: Headers | None = None) -> Any:
        if self.predictor_host:
            return await self._forward(payload, headers or {}, verb="explain")
        raise NotImplementedByModel(f"Model {self.name} does not implement explain.")

    async def aclose(self) -> None:
        """Release what the model holds open (the predictor connection pool)."""
        if self._forwarder is not None:
            await self._forwarder.aclose()
            self._forwarder = None

    async def _forward(self, payload: Any, headers: Headers, *, verb: str) -> Any:
        from mlservice.server.forward import Forwarder, PredictorConfig

        if self._forwarder is None:
            assert self.predictor_host is not None
            self._forwarder = Forwarder(
                PredictorConfig(
                    host=self.predictor_host,
                    protocol=self.predictor_protocol,
                    host_header=self.predictor_host_header,
                )
            )
        return await self._forwarder.send(payload, headers, model=self.name, verb=verb)


class ModelServer:
    """Serve `Model` instances built in code: `ModelServer().start([model])` blocks until stopped.

    The port defaults to `$PORT`, then 8080, on 127.0.0.1 (pass `host="0.0.0.0"` to expose it).
    """

    def __init__(
        self,
        http_port: int | None = None,
        *,
        host: str = "127.0.0.1",
        max_batch_size: int = 0,
        max_batch_delay_ms: float = 5.0,
    ) -> None:
        self.http_port = http_port
        self.host = host
        self.max_batch_size = max_batch_size
        self.max_batch_delay_ms = max_batch_delay_ms

    def start(self, models: list[Model]) -> int:
        """Serve until SIGINT/SIGTERM; returns the exit code (non-zero if a load failed)."""
        import os
        from pathlib import Path

        from mlservice.server.config import ServerConfig
        from mlservice.server.runner import serve_models, setup_logging

        names = ", ".join(model.name for model in models)
        port = self.http_port if self.http_port is not None else int(os.environ.get("PORT", 8080))
        config = ServerConfig(
            model_dir=Path("."),
            name=names,
            host=self.host,
            port=port,
            max_batch_size=self.max_batch_size,
            max_batch_delay_ms=self.max_batch_delay_ms,
            release=os.environ.get("MLS_RELEASE") or None,
        )
        setup_logging()
        return serve_models(models, config, label=names)
