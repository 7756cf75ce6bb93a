"""`ts.handler_utils.timer`: `@timed` records a handler step's time when the model's YAML
config asks for it (`handler: {profile: true}`)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any


def timed(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrap(self: Any, *args: Any, **kwargs: Any) -> Any:
        context = getattr(self, "context", None)
        config = getattr(context, "model_yaml_config", None) or {}
        handler = config.get("handler") if isinstance(config, dict) else None
        if not (isinstance(handler, dict) and handler.get("profile")):
            return func(self, *args, **kwargs)
        started = time.perf_counter()
        result = func(self, *args, **kwargs)
        assert context is not None
        context.metrics.add_time(
            "ts_handler_" + func.__name__, (time.perf_counter() - started) * 1000
        )
        return result

    return wrap
