"""HTTP/1.1 heads as the proxy rewrites them: hop-by-hop headers out, framing and tracing in."""

from __future__ import annotations

import orjson

from mlservice.gateway.trace import is_valid, new_traceparent

# Hop-by-hop (RFC 9110 7.6.1) plus Expect, which the gateway answers itself.
_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer"}
    | {b"transfer-encoding", b"upgrade", b"expect"}
)
RELEASE = b"x-mls-release"
LAST_CHUNK = b"0\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_REASONS = {
    400: b"Bad Request",
    404: b"Not Found",
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    499: b"Client Closed Request",
    501: b"Not Implemented",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
}


class RequestHead:
    """The head to send upstream, and what the proxy needs to know about the request."""

    __slots__ = ("chunked", "content_type", "data", "expect_continue", "host", "traceparent")

    def __init__(self, method: bytes, url: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        self.host = b""
        self.chunked = False
        self.expect_continue = False
        self.traceparent = b""
        self.content_type = b""
        dropped: set[bytes] = set()
        parts = [method, b" ", url, b" HTTP/1.1\r\n"]
        for name, value in headers:
            lower = name.lower()
            if lower in _HOP:
                if lower == b"transfer-encoding":
                    self.chunked = b"chunked" in value.lower()
                elif lower == b"expect":
                    self.expect_continue = value.lower() == b"100-continue"
                elif lower == b"connection":
                    dropped.update(t.strip() for t in value.lower().split(b","))
                continue
            if lower == b"host":
                self.host = value
            elif lower == b"traceparent":
                if not is_valid(value):
                    continue  # a malformed one starts a new trace, as the W3C spec says
                self.traceparent = value
            elif lower == b"content-type":
                self.content_type = value
            parts += (name, b": ", value, b"\r\n")
        if dropped - {b"close", b"keep-alive"}:
            parts = _without(parts, dropped)
        if not self.traceparent:
            self.traceparent = new_traceparent()
            parts += (b"traceparent: ", self.traceparent, b"\r\n")
        if self.chunked:
            parts.append(b"transfer-encoding: chunked\r\n")
        parts.append(b"\r\n")
        self.data = b"".join(parts)


def _without(parts: list[bytes], names: set[bytes]) -> list[bytes]:
    """Drop the headers the client's Connection header named (hop-by-hop by declaration)."""
    kept = parts[:4]
    for i in range(4, len(parts), 4):
        if parts[i].lower() not in names:
            kept += parts[i : i + 4]
    return kept


class ResponseHead:
    """A replica's response head rewritten for the client, and how its body is framed."""

    __slots__ = ("chunk_out", "close", "content_type", "data", "release")

    def __init__(
        self,
        status: int,
        reason: bytes,
        headers: list[tuple[bytes, bytes]],
        *,
        release: bytes | None,
        body_allowed: bool,
        http11: bool,
        keep_alive: bool,
    ) -> None:
        self.release = release or b""
        self.content_type = b""
        framed = False
        parts = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
        for name, value in headers:
            lower = name.lower()
            if lower in _HOP:
                continue
            if lower == RELEASE:
                if release is not None:
                    continue  # ours wins: the gateway knows which release it chose
                self.release = value
            elif lower == b"content-length":
                framed = True
            elif lower == b"content-type":
                self.content_type = value
            parts += (name, b": ", value, b"\r\n")
        if release:
            parts += (RELEASE, b": ", release, b"\r\n")
        # A body of unknown length goes out chunked; an HTTP/1.0 client gets it up to close.
        self.chunk_out = body_allowed and not framed and http11
        self.close = not keep_alive or (body_allowed and not framed and not http11)
        if self.chunk_out:
            parts.append(b"transfer-encoding: chunked\r\n")
        if self.close:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        self.data = b"".join(parts)


def content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The request's declared body length, None if it has none (or a malformed one)."""
    for name, value in headers:
        if name.lower() == b"content-length":
            return int(value) if value.strip().isdigit() else None
    return None


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def error_response(status: int, message: str, *, close: bool) -> bytes:
    """`{"error": message}` with its status, as the model servers answer errors."""
    body = orjson.dumps({"error": message})
    head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n" % (
        status,
        _REASONS.get(status, b"Error"),
        len(body),
    )
    return head + (b"connection: close\r\n\r\n" if close else b"\r\n") + body
