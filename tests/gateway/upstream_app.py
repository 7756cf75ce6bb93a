"""A small real upstream for the proxy tests: `python upstream_app.py NAME`.

Binds 127.0.0.1:0 and prints `listening on http://127.0.0.1:PORT`. Every path echoes what it
received as JSON (name, method, path, headers, body size and digest) unless it is one of:
`/slow?s=`, `/sse?n=&gap=`, `/big?n=`, `/stream-echo`, `/stats` (peak concurrency),
`/die?name=` (exits mid-request if it is `name`, else echoes), `/events` (a CloudEvents sink:
POST stores, GET lists).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
import sys
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

NAME = sys.argv[1] if len(sys.argv) > 1 else "upstream"
state = {"now": 0, "peak": 0, "total": 0}
events: list[dict[str, object]] = []


async def echo(request: Request) -> Response:
    state["now"] += 1
    state["total"] += 1
    state["peak"] = max(state["peak"], state["now"])
    try:
        body = await request.body()
        delay = float(request.query_params.get("s", "0"))
        if delay:
            await asyncio.sleep(delay)
        doc = {
            "name": NAME,
            "method": request.method,
            "path": request.url.path,
            "headers": dict(request.headers),
            "length": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        return JSONResponse(doc, headers={"x-mls-release": f"{NAME}-own"})
    finally:
        state["now"] -= 1


async def sse(request: Request) -> Response:
    n, gap = int(request.query_params.get("n", "3")), float(request.query_params.get("gap", "0"))

    async def lines() -> AsyncIterator[bytes]:
        for i in range(n):
            yield f"data: {i}\n\n".encode()
            await asyncio.sleep(gap)

    return StreamingResponse(lines(), media_type="text/event-stream")


async def big(request: Request) -> Response:
    return Response(b"x" * int(request.query_params["n"]), media_type="application/octet-stream")


async def stream_echo(request: Request) -> Response:
    # Read first: Starlette's StreamingResponse listens for disconnects on the same receive
    # channel and would swallow body messages still arriving.
    body = await request.body()

    async def back() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 10_000):
            yield body[start : start + 10_000]

    return StreamingResponse(back(), media_type="application/octet-stream")


async def stats(_: Request) -> Response:
    return JSONResponse(state)


async def die(request: Request) -> Response:
    if request.query_params.get("name", NAME) == NAME:
        os._exit(3)
    return await echo(request)


async def sink(request: Request) -> Response:
    if request.method == "POST":
        body = await request.body()
        events.append({"headers": dict(request.headers), "body": base64.b64encode(body).decode()})
        return Response(status_code=202)
    return JSONResponse(events)


app = Starlette(
    routes=[
        Route("/sse", sse),
        Route("/big", big),
        Route("/stream-echo", stream_echo, methods=["POST", "PUT"]),
        Route("/stats", stats),
        Route("/die", die),
        Route("/events", sink, methods=["GET", "POST"]),
        Route("/{path:path}", echo, methods=["GET", "POST", "PUT", "HEAD", "DELETE"]),
    ]
)

if __name__ == "__main__":
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, loop="uvloop", http="httptools", log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])
