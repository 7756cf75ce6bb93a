"""A bounded request loop against the gateway, and finding `mls up`'s processes in /proc."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

IRIS_ROW = {"instances": [[6.8, 2.8, 4.8, 1.4]]}


@dataclass
class Load:
    """`rps` requests a second to one host through the gateway, until stopped (bounded by
    `limit` seconds); every outcome kept: a status code, or the exception's name."""

    gateway: str
    host: str
    path: str
    rps: float = 50.0
    limit: float = 60.0
    outcomes: list[tuple[float, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Load:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=30)

    def _run(self) -> None:
        period, deadline = 1.0 / self.rps, time.monotonic() + self.limit
        headers = {"Host": self.host}
        with httpx.Client(base_url=self.gateway, timeout=10, trust_env=False) as http:
            following = time.monotonic()
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    answer = http.post(self.path, json=IRIS_ROW, headers=headers)
                    outcome = str(answer.status_code)
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                self.outcomes.append((time.monotonic(), outcome))
                following += period
                time.sleep(max(0.0, following - time.monotonic()))

    def counts(self) -> Counter[str]:
        return Counter(outcome for _, outcome in self.outcomes)

    def failed(self) -> int:
        return sum(1 for _, outcome in self.outcomes if outcome != "200")


def children(pid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(proc.name))
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def child_running(pid: int, needle: str) -> int | None:
    """The child of `pid` whose command line contains `needle`, if one runs."""
    for child in children(pid):
        if needle in cmdline(child):
            return child
    return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"
