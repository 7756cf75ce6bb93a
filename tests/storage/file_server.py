"""A stdlib HTTP file server that counts the requests it answers, and a model archive builder,
behind the storage fixtures."""

from __future__ import annotations

import io
import tarfile
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any


@dataclass
class FileServer:
    """A stdlib HTTP server over `root`; `hits[(method, path)]` counts requests answered."""

    root: Path
    url: str
    hits: Counter[tuple[str, str]] = field(default_factory=Counter)
    delay: float = 0.0
    head_status: int | None = None
    """Answer HEAD with this error status instead, as presigned-URL servers do."""


class CountingHandler(SimpleHTTPRequestHandler):
    server_state: FileServer

    def do_GET(self) -> None:
        self.server_state.hits["GET", self.path] += 1
        time.sleep(self.server_state.delay)
        super().do_GET()

    def do_HEAD(self) -> None:
        self.server_state.hits["HEAD", self.path] += 1
        if self.server_state.head_status is not None:
            self.send_error(self.server_state.head_status)
            return
        super().do_HEAD()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is not the place for access logs."""


def write_tar_gz(path: Path, files: dict[str, bytes]) -> Path:
    """A plain, well-formed model archive."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path
