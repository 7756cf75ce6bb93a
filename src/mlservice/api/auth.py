"""Bearer-token auth: one token per data dir, created 0600 on first start.

The web console's session cookie stands in for the token (`session_value`): HttpOnly and
SameSite=Strict, so no other site's page can send it. A write made with the cookie must also
carry `X-MLS-Console` (a header no form or plain cross-site request can set): CSRF defence in
depth on top of SameSite."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets

from starlette.types import ASGIApp, Receive, Scope, Send

from mlservice.api.status import status_body
from mlservice.home import Home

# Liveness and the API description are public, as `/healthz` and discovery docs are.
OPEN_PATHS = frozenset({"/healthz", "/openapi.json"})
# The console's shell, its assets and its login: no data under this prefix.
OPEN_PREFIX = "/ui"
SESSION_COOKIE = "mls_session"
CONSOLE_HEADER = b"x-mls-console"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def session_value(token: str) -> str:
    """The console cookie for `token`: derived, so nothing is stored and a restarted control
    plane accepts it; a new token (a new data dir) invalidates it."""
    return hmac.new(token.encode(), b"mlservice console session", hashlib.sha256).hexdigest()


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path == OPEN_PREFIX or path.startswith(OPEN_PREFIX + "/")


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
    """ASGI middleware: every path but the open ones needs `Authorization: Bearer <token>` or
    the console's session cookie (and, for a write with the cookie, `X-MLS-Console`)."""

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self._token = token.encode()
        self._session = session_value(token).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        code, message = refusal
        reason = "Forbidden" if code == 403 else None
        body = json.dumps(status_body(code=code, message=message, reason=reason)).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if code == 401:
            headers.append((b"www-authenticate", b'Bearer realm="mlservice"'))
        await send({"type": "http.response.start", "status": code, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        """None when allowed; else the status code and message."""
        headers = scope["headers"]
        for name, value in headers:
            if name == b"authorization":
                scheme, _, credential = value.partition(b" ")
                if scheme.lower() == b"bearer" and hmac.compare_digest(
                    credential.strip(), self._token
                ):
                    return None
                return 401, "Unauthorized"
        if not any(hmac.compare_digest(v, self._session) for v in _cookies(headers)):
            return 401, "Unauthorized"
        if scope["method"] not in _SAFE_METHODS and not any(
            n == CONSOLE_HEADER for n, _ in headers
        ):
            return 403, "A console write needs the X-MLS-Console header."
        return None


def _cookies(headers: list[tuple[bytes, bytes]]) -> list[bytes]:
    """Every value of the session cookie the request carries."""
    found = []
    for name, value in headers:
        if name == b"cookie":
            for pair in value.split(b";"):
                key, _, cookie = pair.strip().partition(b"=")
                if key == SESSION_COOKIE.encode():
                    found.append(cookie)
    return found
