"""A repository model's optional settings file, `model-settings.json`, shaped like MLServer's.

    {"name": "iris", "parameters": {"version": "2", "format": "sklearn"},
     "max_batch_size": 8, "max_batch_time": 0.005, "memory": "64Mi"}

All fields are optional. `name` (default: the folder's) is the name the model is served under;
`parameters.format` forces a format (default: detected from the files), and MLServer's
`implementation` of its own runtimes names one too (`mlserver_sklearn.SKLearnModel`);
`parameters.version` is the version it answers to; `max_batch_size` (2 or more turns batching
on) and `max_batch_time` (seconds, MLServer's unit) batch its requests when the server's
`--max-batch-size` is off; `memory` (bytes, or with units as Kubernetes writes them) is what the
model is charged against `--max-models-memory`, as KServe's TrainedModel `spec.model.memory`
declares it. Other MLServer fields are accepted and ignored (the log names them).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlservice.errors import InvalidInput, ModelFormatError
from mlservice.server.dataplane import BatchSettings
from mlservice.server.repository.memory import parse_bytes

FILENAME = "model-settings.json"
MAX_FILE_BYTES = 64 * 1024
log = logging.getLogger("mlservice.server")

# MLServer's built-in runtimes, by the format that serves the same files here.
IMPLEMENTATIONS = {
    "mlserver_sklearn.SKLearnModel": "sklearn",
    "mlserver_xgboost.XGBoostModel": "xgboost",
    "mlserver_lightgbm.LightGBMModel": "lightgbm",
    "mlserver_onnx.OnnxModel": "onnx",
}


class _Parameters(BaseModel):
    model_config = ConfigDict(extra="allow")

    version: str | None = None
    format: str | None = None


class ModelSettings(BaseModel):
    """The file as read; `extra` fields are MLServer's that have no meaning here."""

    model_config = ConfigDict(extra="allow")

    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    implementation: str | None = None
    parameters: _Parameters = Field(default_factory=_Parameters)
    max_batch_size: int = Field(default=0, ge=0, le=65536)
    max_batch_time: float = Field(default=0.005, ge=0, le=60)
    memory: str | int | None = None

    @property
    def format(self) -> str | None:
        if self.parameters.format:
            return self.parameters.format
        return IMPLEMENTATIONS.get(self.implementation or "")

    @property
    def batching(self) -> BatchSettings | None:
        if self.max_batch_size < 2:
            return None
        return BatchSettings(self.max_batch_size, self.max_batch_time)

    def memory_bytes(self, label: str) -> int | None:
        if self.memory is None:
            return None
        try:
            return parse_bytes(self.memory, field=f"{label}: memory")
        except InvalidInput as exc:
            raise ModelFormatError(exc.message) from None


def read_settings(folder: Path) -> ModelSettings:
    """The folder's settings, defaults when it has no file; ModelFormatError when it is bad."""
    path = folder / FILENAME
    if not path.is_file():
        return ModelSettings()
    label = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ModelFormatError(f"{label} is larger than {MAX_FILE_BYTES} bytes.")
        settings = ModelSettings.model_validate(json.loads(path.read_bytes()))
    except (OSError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            causes = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
            )
            raise ModelFormatError(f"{label} is not valid: {causes}.") from None
        raise ModelFormatError(f"{label} cannot be read: {exc}.") from None
    ignored = sorted(settings.model_extra or {})
    if ignored:
        log.info("%s: ignoring %s (no meaning here)", label, ", ".join(ignored))
    if settings.implementation and settings.format is None:
        log.info(
            "%s: implementation %s is not known; detecting the format",
            label,
            settings.implementation,
        )
    settings.memory_bytes(label)  # a bad size fails here, not at load
    return settings
