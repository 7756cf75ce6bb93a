from __future__ import annotations

import importlib
import sys

import typer

from mlservice._version import __version__

# The module that registers each top-level command. Only the one asked for is imported:
# `mls serve` starts every replica and must not pay for the control-plane client, its
# resource models and rich (about 250 ms of imports).
COMMAND_MODULES: dict[str, str] = {
    "up": "up",
    "apply": "objects",
    "get": "objects",
    "describe": "objects",
    "delete": "objects",
    "wait": "objects",
    "logs": "logs",
    "volume": "volume",
    "predict": "predict",
    "replay": "replay",
    "serve": "serve",
    "agent": "agent",
    "storage-init": "storage_init",
    "kube": "kube",
    "operator": "operator",
    "ui": "ui",
}


# Wide enough for the longest option name beside its type and help, on one line each.
PIPED_HELP_WIDTH = 120


def build_app(command: str | None = None) -> typer.Typer:
    """The `mls` app with `command`'s module registered, or every module when None."""
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

    wanted = COMMAND_MODULES.get(command or "")
    for name in dict.fromkeys(COMMAND_MODULES.values()):
        if wanted in (None, name):
            importlib.import_module(f"mlservice.cli.{name}").register(app)
    return app


def _command(argv: list[str]) -> str | None:
    """The subcommand named on the command line; None for help, options or a typo."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return first if first in COMMAND_MODULES else None


def main() -> None:
    argv = sys.argv[1:]
    if _shows_help(argv) and not sys.stdout.isatty():
        _widen_help()
    build_app(_command(argv))()


def _shows_help(argv: list[str]) -> bool:
    """`--help`, or too few words for a command: what prints help (or a usage error)."""
    return "--help" in argv or len(argv) < 2


def _widen_help() -> None:
    """Off a terminal, rich lays help out in 80 columns and cuts long option names
    (`--predictor-host-hea…`); piped help is read by scripts, docs tests and pagers, so give it
    room. Only when help is shown: rich's import would slow every replica's `mls serve`."""
    from typer import rich_utils

    rich_utils.MAX_WIDTH = rich_utils.MAX_WIDTH or PIPED_HELP_WIDTH
