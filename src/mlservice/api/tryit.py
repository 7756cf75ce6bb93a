"""The console's "try it": one request to a service through the gateway, timed.

A page cannot send it itself: the gateway routes by `Host` (which browsers do not let a page
set) and answers no CORS. So the API sends it, always to the loopback gateway port that the
service's own status URL names, with that URL's host: it reaches nothing a `curl` to the
gateway would not.
"""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

TIMEOUT = 60.0
MAX_ANSWER = 4 << 20


def service_url(obj: dict[str, Any], *, release: str | None) -> str | None:
    """The status URL of `release` (its own host), else the service's; None if not ready."""
    status = obj.get("status") or {}
    if release is not None:
        for row in status.get("releases") or []:
            if row.get("name") == release and row.get("url"):
                return str(row["url"])
        return None
    address = status.get("address") or {}
    url = address.get("url") or status.get("url")
    return str(url) if url else None


async def send(url: str, *, path: str, body: bytes, content_type: str) -> dict[str, Any]:
    """POST `body` to `path` on the service at `url`; status, release, latency and answer."""
    parts = urlsplit(url)
    port = parts.port or 80
    target = f"http://127.0.0.1:{port}{path}"
    headers = {"host": parts.netloc, "content-type": content_type}
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=TIMEOUT, trust_env=False) as http:
        try:
            answer = await http.post(target, content=body, headers=headers)
        except httpx.HTTPError as err:
            return {"status": 0, "error": f"The gateway did not answer: {err}."}
    elapsed = (time.perf_counter() - started) * 1000
    data = answer.content[:MAX_ANSWER]
    result: dict[str, Any] = {
        "status": answer.status_code,
        "release": answer.headers.get("x-mls-release", ""),
        "latencyMs": round(elapsed, 1),
        "contentType": answer.headers.get("content-type", ""),
    }
    try:
        result["text"] = data.decode()
    except UnicodeDecodeError:
        result["base64"] = base64.b64encode(data).decode()
    return result
