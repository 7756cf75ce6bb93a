"""The local engine: each replica a supervised process group on this machine."""

from mlservice.engine.local.config import LocalEngineConfig
from mlservice.engine.local.credentials import SecretLookup, ServiceAccountLookup
from mlservice.engine.local.engine import LocalEngine
from mlservice.engine.local.paths import storage_log

__all__ = [
    "LocalEngine",
    "LocalEngineConfig",
    "SecretLookup",
    "ServiceAccountLookup",
    "storage_log",
]
