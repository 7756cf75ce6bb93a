"""Bearer-token auth: one token per data dir, created 0600 on first start."""

from __future__ import annotations

import hmac
import json
import os
import secrets

from starlette.types import ASGIApp, Receive, Scope, Send

from mlservice.api.status import status_body
from mlservice.home import Home

# Liveness and the API description are public, as `/healthz` and discovery docs are.
OPEN_PATHS = frozenset({"/healthz", "/openapi.json"})


def load_or_create_token(home: Home) -> str:
    """The token in `home.token`, creating it (owner-only) if missing.

    The first thing `mls up` reads from its data dir, so it makes the data dir private first
    (`Home.ensure`: 0700, umask 0o077) for everything written after it."""
    home.ensure()
    path = home.token
    if path.exists():
        token = path.read_text().strip()
        if token:
            return token
    token = secrets.token_urlsafe(32)
    # O_EXCL with 0600: the token is never readable by others, not even for an instant.
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    os.replace(tmp, path)
    return token


class BearerAuth:
    """ASGI middleware: every path but `OPEN_PATHS` needs `Authorization: Bearer <token>`."""

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        body = json.dumps(status_body(code=401, message="Unauthorized")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="mlservice"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _allowed(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, credential = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(
                    credential.strip(), self._token
                )
        return False
