"""Manifest files as `mls apply -f` takes them (files, directories, `-` for stdin, `kind: List`),
and applying them through a `Client`: what `mls apply` and `mls up --apply` both run.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import yaml

from mlservice.client._sync import Client
from mlservice.errors import InvalidInput, InvalidObject, MLServiceError
from mlservice.resources import kinds

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


def apply_paths(
    client: Client,
    paths: Sequence[Path | str],
    *,
    out: IO[str],
    err: IO[str] | None = None,
    namespace: str | None = None,
) -> bool:
    """Apply every manifest in `paths`, printing one line per object (errors to `err`, default
    `out`); False if any failed."""
    ok = True
    for document in load(paths):
        try:
            applied = client.apply(_placed(document, namespace))  # one bad document: go on
        except MLServiceError as error:
            ok = False
            for line in error_lines(error):
                print(line, file=err or out, flush=True)
            continue
        info = kinds.by_kind(applied.kind)
        label = info.singular if info is not None else applied.kind.lower()
        print(f"{label}/{applied.name} {applied.action}", file=out, flush=True)
    return ok


def error_lines(error: MLServiceError) -> list[str]:
    """`error: ...` lines: one per field cause of an invalid object, else the message."""
    if isinstance(error, InvalidObject) and error.causes:
        return [f"error: {c.field}: {c.message}" if c.field else f"error: {c.message}"
                for c in error.causes]  # fmt: skip
    return [f"error: {error.message}"]


def _placed(document: Document, namespace: str | None) -> dict[str, Any]:
    info = _check_kind(document)
    body = dict(document.body)
    if not info.namespaced:  # -n does not apply to a cluster-scoped object
        return body
    metadata = dict(body.get("metadata") or {})
    sent = metadata.get("namespace")
    if namespace and sent and sent != namespace:
        raise InvalidInput(
            f"{document.where} is in namespace {sent!r}, not {namespace!r} as -n asks."
        )
    if namespace and not sent:
        metadata["namespace"] = namespace
    body["metadata"] = metadata
    return body


def _check_kind(document: Document) -> kinds.KindInfo:
    """Name the kind given and its file: the server cannot, it never sees an unknown kind."""
    kind = document.body.get("kind")
    info = kinds.by_kind(kind) if isinstance(kind, str) else None
    if info is not None:
        return info
    names = ", ".join(k.kind for k in kinds.KINDS)
    if kind is None:
        raise InvalidInput(f"{document.where} has no kind; give one of {names}.")
    raise InvalidInput(f'kind "{kind}" in {document.source} is not one of {names}.')
