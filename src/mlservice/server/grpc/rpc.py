"""What a servicer method sees of its call (grpc.aio's ServicerContext, as far as we use it), and
the RPC table: each `/inference.GRPCInferenceService/{Method}` path -> request parser + method."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from mlservice.server.grpc.generated import inference_pb2 as pb

Metadata = tuple[tuple[str, str | bytes], ...]
SERVICE = "inference.GRPCInferenceService"
# Request headers that are gRPC's or HTTP/2's own, not the caller's metadata.
_NOT_METADATA = frozenset(
    {b"content-type", b"te", b"grpc-timeout", b"grpc-encoding", b"grpc-accept-encoding"}
)


class RpcAborted(Exception):
    """Raised by `RpcContext.abort`: ends the call with this status."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RpcContext:
    __slots__ = ("_headers", "trailing")

    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        self._headers = headers
        self.trailing: Metadata = ()

    def invocation_metadata(self) -> Metadata:
        """The caller's metadata: text keys as str, `-bin` keys as the bytes they encode."""
        pairs: list[tuple[str, str | bytes]] = []
        for name, value in self._headers:
            if name[:1] == b":" or name in _NOT_METADATA:
                continue
            key = name.decode("ascii", "replace")
            if key.endswith("-bin"):
                pairs.append((key, base64.b64decode(value + b"=" * (-len(value) % 4))))
            else:
                pairs.append((key, value.decode("latin-1")))
        return tuple(pairs)

    def set_trailing_metadata(self, metadata: Metadata) -> None:
        self.trailing = metadata

    def abort(self, code: int, message: str) -> NoReturn:
        raise RpcAborted(code, message)


@dataclass(frozen=True, slots=True)
class Method:
    parse: Callable[[bytes], Any]
    """The request message from its bytes (protobuf's DecodeError when they are not one)."""
    call: Callable[[Any, RpcContext], Awaitable[Any]]


def method_table(servicer: object) -> dict[bytes, Method]:
    """The service's RPCs the servicer implements, by HTTP/2 `:path`; the others are
    UNIMPLEMENTED, as grpc answers a method no handler has."""
    service = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    table: dict[bytes, Method] = {}
    for rpc in service.methods:
        call = getattr(servicer, rpc.name, None)
        if call is None:
            continue
        request_type = getattr(pb, rpc.input_type.name)
        table[f"/{SERVICE}/{rpc.name}".encode()] = Method(request_type.FromString, call)
    return table
