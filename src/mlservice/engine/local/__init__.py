"""The local engine: each replica a supervised process group on this machine."""

from mlservice.engine.local.config import LocalEngineConfig
from mlservice.engine.local.engine import LocalEngine
from mlservice.engine.local.paths import storage_log
from mlservice.engine.local.resolve import SecretLookup

__all__ = ["LocalEngine", "LocalEngineConfig", "SecretLookup", "storage_log"]
