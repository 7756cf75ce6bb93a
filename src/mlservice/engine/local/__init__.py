"""The local engine: each replica a supervised process group on this machine."""

from mlservice.engine.local.config import LocalEngineConfig
from mlservice.engine.local.engine import LocalEngine
from mlservice.engine.local.paths import storage_log

__all__ = ["LocalEngine", "LocalEngineConfig", "storage_log"]
