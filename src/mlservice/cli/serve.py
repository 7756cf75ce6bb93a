"""`mls serve`: a standalone model server (what every built-in runtime runs). The command is
`server/command.py`'s, which a warm standby also runs without this app."""

from __future__ import annotations

import typer

from mlservice.server.command import serve


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command(name="serve")(serve)
