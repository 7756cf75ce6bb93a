"""Names the controllers give things: revisions, hosts and the URLs status reports.

Revisions are `{name}-{component}-{release}-{NNNNN}` with a sequence per release (design);
a transformer has no release, so its revisions are `{name}-transform-{NNNNN}`, and a
SimpleMLService's are `{name}-simple-{NNNNN}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEQUENCE = re.compile(r"-(\d{5,})$")


def revision_name(service: str, component: str, release: str, sequence: int) -> str:
    parts = [service, component, *([release] if release else []), f"{sequence:05d}"]
    return "-".join(parts)


def sequence_of(revision: str) -> int:
    """The trailing sequence number of a revision name (0 if it has none)."""
    found = _SEQUENCE.search(revision)
    return int(found[1]) if found else 0


@dataclass(frozen=True)
class Hosts:
    """Host names of the gateway routes of one service, and the URLs built from them."""

    domain: str
    port: int

    def url(self, host: str) -> str:
        """`http://{host}:{port}`, the port left out when it is HTTP's own 80."""
        return f"http://{host}" if self.port == 80 else f"http://{host}:{self.port}"

    def service(self, name: str, namespace: str) -> str:
        return f"{name}.{namespace}.{self.domain}"

    def predictor(self, name: str, namespace: str) -> str:
        return f"{name}-predictor.{namespace}.{self.domain}"

    def release(self, name: str, namespace: str, release: str) -> str:
        return f"{name}-predict-{release}.{namespace}.{self.domain}"

    def transformer(self, name: str, namespace: str) -> str:
        return f"{name}-transformer.{namespace}.{self.domain}"

    def simple(self, name: str, namespace: str) -> str:
        return f"{name}.{namespace}.svc.{self.domain}"
