"""How `mls` prints: tables per kind, YAML/JSON, ages, and errors one line per cause."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NoReturn

import typer
import yaml
from rich.console import Console
from rich.table import Table

from mlservice.client.manifests import error_lines
from mlservice.errors import MLServiceError
from mlservice.resources.columns import age, cli_columns, text

__all__ = ["age", "console", "dump", "fail", "table"]

Obj = dict[str, Any]


def console() -> Console:
    # Piped output is parsed by scripts and tests: never wrap a row or fold a URL there.
    out = Console(highlight=False)
    return out if out.is_terminal else Console(highlight=False, width=250, no_color=True)


def fail(error: MLServiceError) -> NoReturn:
    """Print `error: ...` (one line per field cause) on stderr and exit 1."""
    for line in error_lines(error):
        typer.echo(line, err=True)
    raise typer.Exit(1)


def dump(data: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip("\n")


def table(
    kind: str, items: Sequence[Obj], *, wide: bool = False, namespaces: bool = False
) -> Table:
    columns = cli_columns(kind, wide=wide, namespaces=namespaces)
    grid = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in columns:
        grid.add_column(column.header, no_wrap=True, overflow="fold")
    for item in items:
        grid.add_row(*(text(column.value(item)) for column in columns))
    return grid
