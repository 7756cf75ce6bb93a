"""Reading a request body under the `--max-body-bytes` limit (413 past it)."""

from __future__ import annotations

from starlette.requests import Request

from mlservice.errors import InvalidInput, PayloadTooLarge


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError as exc:
            raise InvalidInput(f"Content-Length {declared!r} is not an integer.") from exc
        _check(size, limit)
        return await request.body()
    # Chunked upload: count as it streams so an endless body cannot fill memory.
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        _check(received, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _check(size: int, limit: int) -> None:
    if size > limit:
        raise PayloadTooLarge(f"The request body of {size} bytes exceeds the limit of {limit}.")
