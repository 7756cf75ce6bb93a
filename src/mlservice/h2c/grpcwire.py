"""gRPC's few wire facts: status codes, `grpc-timeout`, answers of our own, message framing.

The gateway's proxy never decodes a message: it reads headers, and frames only for the request
log; `mls serve`'s server (server/grpc/connection.py) frames and unframes each message.
"""

from __future__ import annotations

from urllib.parse import quote

# grpc/status codes (the numbers on the wire, as in grpc's `StatusCode`).
OK = 0
CANCELLED = 1
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
RESOURCE_EXHAUSTED = 8
UNIMPLEMENTED = 12
INTERNAL = 13
UNAVAILABLE = 14

# For the revision's counters and the request log, which count HTTP codes: each status as the
# HTTP answer the same failure gets on the HTTP/1.1 path (gRPC's own HTTP mapping, reversed).
HTTP_CODE = {OK: 200, CANCELLED: 499, DEADLINE_EXCEEDED: 504, UNIMPLEMENTED: 404}
HTTP_CODE |= {INTERNAL: 500, UNAVAILABLE: 503, 3: 400, 5: 404, 7: 403, 8: 429, 16: 401}

_UNITS = {b"H": 3600.0, b"M": 60.0, b"S": 1.0, b"m": 1e-3, b"u": 1e-6, b"n": 1e-9}
RELEASE = b"x-mls-release"
GRPC_CONTENT_TYPE = b"application/grpc"
PROTOBUF = b"application/x-protobuf"  # the request log's type for an unframed message


def parse_timeout(value: bytes) -> float | None:
    """`grpc-timeout` (`1S`, `250m`, at most 8 digits and a unit) in seconds; None if invalid."""
    digits, unit = value[:-1], value[-1:]
    if not digits.isdigit() or len(digits) > 8 or unit not in _UNITS:
        return None
    return int(digits) * _UNITS[unit]


def http_code(status: bytes | int) -> int:
    """The HTTP code a `grpc-status` counts as (500 for a status we do not map)."""
    try:
        code = int(status)
    except ValueError:
        return 500
    return HTTP_CODE.get(code, 500)


def trailers(status: int, message: str) -> list[tuple[bytes, bytes]]:
    """A status of our own, as trailers (`grpc-message` percent-encoded, as gRPC asks)."""
    encoded = quote(message, safe=" !\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~").encode("ascii")
    return [(b"grpc-status", str(status).encode()), (b"grpc-message", encoded)]


def trailers_only(status: int, message: str, *, release: bytes | None) -> list[tuple[bytes, bytes]]:
    """A whole answer in one HEADERS frame: gRPC's "Trailers-Only" response."""
    head = [(b":status", b"200"), (b"content-type", GRPC_CONTENT_TYPE)]
    if release:
        head.append((RELEASE, release))
    return head + trailers(status, message)


def unframe(data: bytes) -> tuple[bytes, bytes]:
    """A unary call's body as the request log shows it: the one uncompressed message without
    its 5-byte prefix, `application/x-protobuf`; anything else (streams, compression) as sent."""
    if len(data) >= 5 and data[0] == 0 and int.from_bytes(data[1:5], "big") == len(data) - 5:
        return data[5:], PROTOBUF
    return data, GRPC_CONTENT_TYPE
