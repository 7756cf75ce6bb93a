"""Host names: what each route answers to, and turning a Host header into a routing key.

The controllers name routes with the builders below; the gateway looks a request up by
`route_key(host header)`. Keys are lower-case, without port or trailing dot, as DNS compares.
"""

from __future__ import annotations


def service_host(name: str, namespace: str, domain: str) -> str:
    """The service's own host: the transformer if there is one, else the release split."""
    return f"{name}.{namespace}.{domain}".lower()


def predictor_host(name: str, namespace: str, domain: str) -> str:
    """The split without the transformer: the transformer's own hop to the predictors."""
    return f"{name}-predictor.{namespace}.{domain}".lower()


def release_host(name: str, release: str, namespace: str, domain: str) -> str:
    return f"{name}-predict-{release}.{namespace}.{domain}".lower()


def transformer_host(name: str, namespace: str, domain: str) -> str:
    return f"{name}-transformer.{namespace}.{domain}".lower()


def simple_host(name: str, namespace: str, domain: str) -> str:
    """A SimpleMLService's host, named like a Kubernetes Service's DNS name."""
    return f"{name}.{namespace}.svc.{domain}".lower()


def route_key(raw: bytes) -> str:
    """`Iris.Default.localhost:8080` -> `iris.default.localhost`; `[::1]:80` -> `[::1]`."""
    text = raw.decode("latin-1").strip().lower()
    if text.startswith("["):
        end = text.find("]")
        text = text[: end + 1] if end > 0 else text
    else:
        text = text.partition(":")[0]
    return text.rstrip(".")


class HostKeys:
    """`route_key` with a bounded memo: the same few Host headers arrive over and over."""

    def __init__(self, limit: int = 4096) -> None:
        self._known: dict[bytes, str] = {}
        self._limit = limit

    def __call__(self, raw: bytes) -> str:
        key = self._known.get(raw)
        if key is None:
            key = route_key(raw)
            if len(self._known) >= self._limit:
                self._known.clear()  # a flood of distinct hosts must not grow memory
            self._known[raw] = key
        return key
