"""Reading manifests for `apply -f` and `delete -f`: files, directories, `-` for stdin."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlservice.errors import InvalidInput

SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Document:
    source: str
    index: int
    body: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.source} (document {self.index})"


def load(paths: Sequence[Path | str]) -> list[Document]:
    """Every manifest in `paths`, in order; a directory gives the YAML/JSON files below it, by
    path (recursively: `examples/` holds one folder per kind)."""
    documents: list[Document] = []
    for path in paths:
        found: list[Document] = []
        for source, text in _sources(Path(path) if str(path) != "-" else None):
            found += _parse(source, text)
        if not found:
            raise InvalidInput(f"-f {path}: no manifests found (YAML or JSON with a kind).")
        documents += found
    return documents


def _sources(path: Path | None) -> Iterator[tuple[str, str]]:
    if path is None:
        yield "<stdin>", sys.stdin.read()
    elif path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and child.suffix in SUFFIXES:
                yield str(child), child.read_text()
    elif path.is_file():
        yield str(path), path.read_text()
    else:
        raise InvalidInput(f"-f {path}: no such file or directory.")


def _parse(source: str, text: str) -> list[Document]:
    try:
        raw = list(yaml.safe_load_all(text))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InvalidInput(f"{source} is not valid YAML{where}: {err}.") from None
    documents = []
    for index, body in enumerate(raw, start=1):
        if body is None:
            continue
        if not isinstance(body, dict):
            raise InvalidInput(
                f"{source} document {index} is a {type(body).__name__}, not a mapping."
            )
        items = body.get("items") if body.get("kind") == "List" else [body]
        documents += [Document(source, index, item) for item in items or []]
    return documents
