from __future__ import annotations

import typer

from mlservice import __version__
from mlservice.cli import logs, objects, serve, up, volume

app = typer.Typer(
    name="mls",
    help="mlservice: serve ML models from one manifest.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """mlservice: serve ML models from one manifest."""


@app.command()
def version() -> None:
    """Print the mlservice version."""
    typer.echo(__version__)


for _module in (up, objects, logs, volume, serve):
    _module.register(app)


def main() -> None:
    app()
