"""`mls volume create|ls|cp`: local volumes, worked on directly in the data dir (no API needed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from mlservice.errors import MLServiceError
from mlservice.home import Home
from mlservice.storage.base import human_size
from mlservice.storage.volumes import CopyPlan, copy_files, create_volume, list_volumes, plan_copy

# Copies smaller than this finish before a progress bar would be worth drawing.
PROGRESS_THRESHOLD = 8 * 2**20

volume_app = typer.Typer(
    name="volume",
    help="Local volumes: the folders `pvc://NAME/PATH` model URIs point into.",
    no_args_is_help=True,
)

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home", help="Data dir; default $MLS_HOME, else ~/.mlservice.", show_default=False
    ),
]


@contextmanager
def _reported() -> Iterator[None]:
    """Errors as one line on stderr and exit status 1, not a traceback."""
    try:
        yield
    except MLServiceError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(f"error: {exc.filename or 'copy'}: {exc.strerror}.", err=True)
        raise typer.Exit(1) from None


@volume_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Volume name (lowercase, digits, '-', '.').")],
    home: HomeOption = None,
) -> None:
    """Create an empty volume."""
    with _reported():
        path = create_volume(Home.from_env(home), name)
    typer.echo(f"volume/{name} created at {path}")


@volume_app.command("ls")
def ls(home: HomeOption = None) -> None:
    """List volumes with their file count and size."""
    data = Home.from_env(home)
    volumes = list_volumes(data)
    if not volumes:
        typer.echo(f"No volumes under {data.volumes}; create one with `mls volume create NAME`.")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("NAME", "FILES", "SIZE", "PATH"):
        table.add_column(column, justify="right" if column in ("FILES", "SIZE") else "left")
    for volume in volumes:
        table.add_row(volume.name, str(volume.files), human_size(volume.size), str(volume.path))
    # Piped output is read by scripts: never wrap or colour a row there.
    out = Console(highlight=False)
    (out if out.is_terminal else Console(width=250, no_color=True, highlight=False)).print(table)


@volume_app.command("cp")
def cp(
    src: Annotated[Path, typer.Argument(help="Local file or directory to copy.")],
    dest: Annotated[str, typer.Argument(help="pvc://VOLUME/PATH (end in / to copy into PATH).")],
    home: HomeOption = None,
) -> None:
    """Copy a local file or directory into a volume."""
    with _reported():
        plan = plan_copy(Home.from_env(home), src, dest)
        total = plan.total
        with _progress(total) as advance:
            copy_files(plan, advance=advance)
    typer.echo(f"Copied {_count(plan)}, {human_size(total)}, to {dest} ({plan.target})")


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    if total < PROGRESS_THRESHOLD:
        yield lambda n: None
        return
    columns = (
        TextColumn("copying"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("copy", total=total)
        yield lambda n: progress.advance(task, n)


def _count(plan: CopyPlan) -> str:
    n = len(plan.files)
    return f"{n} file" if n == 1 else f"{n} files"


def register(app: typer.Typer) -> None:
    """Add `mls volume` to `app`."""
    app.add_typer(volume_app, name="volume")
