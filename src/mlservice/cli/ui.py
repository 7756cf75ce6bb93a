"""`mls ui`: the web console's link, with the API token in the URL fragment.

A fragment never leaves the browser in a request, so the token reaches only the page, which
trades it for a session cookie and drops it from the address bar."""

from __future__ import annotations

from typing import Annotated

import typer

from mlservice.home import Home


def console_link(api: str, token: str) -> str:
    """`http://127.0.0.1:8787/ui/#token=...`."""
    return f"{api.rstrip('/')}/ui/#token={token}"


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""

    @app.command()
    def ui(
        open_browser: Annotated[
            bool, typer.Option("--open/--print", help="Open a browser, or only print the link.")
        ] = False,
    ) -> None:
        """Print (or open) the web console's link, with this data dir's API token."""
        from mlservice.cli.output import fail
        from mlservice.client import Endpoints
        from mlservice.errors import Unavailable

        endpoints = Endpoints.resolve(home=Home.from_env())
        if not endpoints.token:
            fail(Unavailable("No API token: start `mls up` first (it writes $MLS_HOME/token)."))
        link = console_link(endpoints.api, endpoints.token)
        typer.echo(link)
        if open_browser:
            import webbrowser

            webbrowser.open(link)
