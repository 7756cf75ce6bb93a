"""Shadow copies of gRPC calls: one unary call to a replica's gRPC port over HTTP/2 connections
of the shadows' own (the proxy's links serve clients' calls; a copy never waits behind them).

The copy is the client's call as it reached the gateway (headers, the framed message) plus
`x-mls-shadow: true`; its answer is the framed message and the `grpc-status` counted as the
HTTP code of the same failure, as the proxy counts calls.
"""

from __future__ import annotations

import asyncio

from mlservice.gateway.grpcupstream import GrpcUpstream, UpstreamLinks
from mlservice.h2c import grpcwire
from mlservice.h2c.events import Headers
from mlservice.h2c.peer import Batch, H2Error

NO_ANSWER = 502


class _Answer:
    """The shadow call as its upstream connection sees it (`grpcupstream.Stream`)."""

    __slots__ = ("body", "code", "done", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.body: bytearray | None = bytearray()  # None: larger than `limit`, not compared
        self.code = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def response_headers(self, headers: Headers) -> None:
        pass  # the status comes in the trailers

    def response_data(self, data: bytes) -> None:
        if self.body is not None:
            self.body += data
            if len(self.body) > self.limit:
                self.body = None

    def response_trailers(self, trailers: Headers) -> None:
        status = next((v for k, v in trailers if k == b"grpc-status"), b"2")  # 2: UNKNOWN
        self._end(grpcwire.http_code(status))

    def response_end(self) -> None:
        self._end(grpcwire.HTTP_CODE[grpcwire.INTERNAL])  # no grpc-status: no valid answer

    def upstream_failed(self, reason: str) -> None:
        self._end(NO_ANSWER)

    def _end(self, code: int) -> None:
        if not self.done.done():
            self.code = code
            self.done.set_result(None)


class GrpcShadowSender:
    def __init__(self, *, connect_timeout: float, limit: int) -> None:
        self.links = UpstreamLinks(batch=Batch(), connect_timeout=connect_timeout)
        self.limit = limit

    async def call(self, address: str, headers: Headers, body: bytes) -> tuple[int, bytes | None]:
        """(the answer's HTTP-equivalent code, its framed message; None when none was kept).
        The caller bounds it in time (`asyncio.timeout`): a cancelled call resets its stream."""
        answer = _Answer(self.limit)
        upstream: GrpcUpstream | None = None
        stream_id = 0
        try:
            upstream = await self._upstream(address)
            stream_id = upstream.open(answer, headers, end=False)
            upstream.send_data(stream_id, body, end=True)
            await answer.done
        except asyncio.CancelledError:
            if upstream is not None and stream_id:
                upstream.close_stream(stream_id, cancel=True)
            raise
        except OSError:
            return NO_ANSWER, None
        except H2Error:
            return NO_ANSWER, None
        return answer.code, bytes(answer.body) if answer.body is not None else None

    async def _upstream(self, address: str) -> GrpcUpstream:
        links = self.links
        upstream = links.ready(address) or await links.connect(address)
        while not upstream.usable or upstream.full:
            upstream = links.ready(address) or await links.connect(address)
        return upstream

    def close(self) -> None:
        self.links.close()
