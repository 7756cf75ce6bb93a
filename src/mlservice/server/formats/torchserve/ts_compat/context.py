"""`ts.context`: the handler's context object."""

from mlservice.server.formats.torchserve.context import Context, Metrics, RequestProcessor

__all__ = ["Context", "Metrics", "RequestProcessor"]
