"""Reading examples/: each file's manifest, its `# needs:` markers and its `# Try:` commands.

A header is the comment block an example starts with. `# needs: X` marks an example that runs
only with X: a program on PATH (`torchserve`, `tensorflow_model_server`) or `s3`, an S3
endpoint on 127.0.0.1:9000 (the tests start one). The lines under `# Try:` are commands, one a
line, written for the default gateway address http://127.0.0.1:8080.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from tests.support.paths import EXAMPLES

DEFAULT_GATEWAY = "http://127.0.0.1:8080"
S3 = "s3"
SERVICE_KINDS = ("MLService", "SimpleMLService", "InferenceService")


@dataclass(frozen=True)
class Example:
    path: Path
    manifest: dict[str, Any]
    header: tuple[str, ...]
    needs: tuple[str, ...]
    tries: tuple[str, ...]

    @property
    def rel(self) -> str:
        return self.path.relative_to(EXAMPLES).as_posix()

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])

    @property
    def programs(self) -> tuple[str, ...]:
        """Programs it needs on PATH (`needs:` other than s3)."""
        return tuple(n for n in self.needs if n != S3)


def load(path: Path) -> Example:
    text = path.read_text()
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    assert len(docs) == 1, f"{path.name} holds {len(docs)} manifests; examples hold one each"
    header = tuple(line.removeprefix("#") for line in _comment_block(text))
    needs = tuple(
        match[1].strip()
        for line in header
        if (match := re.fullmatch(r"\s*needs:\s*(\S+)\s*", line)) is not None
    )
    return Example(path, docs[0], header, needs, _tries(header))


def load_all() -> list[Example]:
    return [load(p) for p in sorted(EXAMPLES.rglob("*.yaml"))]


def _comment_block(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return lines


def _tries(header: tuple[str, ...]) -> tuple[str, ...]:
    try:
        start = next(i for i, line in enumerate(header) if line.strip().startswith("Try"))
    except StopIteration:
        return ()
    return tuple(line.strip() for line in header[start + 1 :] if line.startswith("   "))


def predicted_digit(body: str) -> int | None:
    """The digit an answer names, whatever its shape: a V1 label, a transformer's
    {"label": ...}, a probability row; None when the answer names no digit."""
    text = body.replace("\r\n", "\n")
    if text.startswith("HTTP/"):  # curl -i: headers first
        text = text.partition("\n\n")[2]
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    predictions = doc.get("predictions") if isinstance(doc, dict) else None
    if not predictions:
        return None
    first = predictions[0]
    if isinstance(first, dict):
        return int(first["label"])
    if isinstance(first, list):
        return int(np.argmax(first))
    return int(first)
