"""`mls predict NAME`: one request to a service through the gateway, the answer as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mlservice.errors import InvalidInput


def read_payload(data: str | None, file: Path | None) -> Any:
    """The body to send: `-d` JSON text, or a `-f` file (`-` for stdin). A file that is not
    JSON (an image, say) goes as raw bytes, for a transformer to decode."""
    if (data is None) == (file is None):
        raise InvalidInput("Give the request body with exactly one of -d JSON or -f FILE.")
    if data is not None:
        try:
            return json.loads(data)
        except json.JSONDecodeError as err:
            raise InvalidInput(f"-d is not valid JSON: {err.msg} at character {err.pos}.") from None
    assert file is not None
    raw = sys.stdin.buffer.read() if str(file) == "-" else _read(file)
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return raw


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as err:
        raise InvalidInput(f"-f {file}: {(err.strerror or str(err)).lower()}.") from None


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""

    @app.command()
    def predict(
        name: Annotated[str, typer.Argument(help="The MLService.")],
        data: Annotated[str | None, typer.Option("--data", "-d", help="JSON body.")] = None,
        file: Annotated[
            Path | None, typer.Option("--filename", "-f", help="Body from a file, - for stdin.")
        ] = None,
        release: Annotated[
            str | None, typer.Option(help="Send to this release only, not the split.")
        ] = None,
        model: Annotated[
            str | None, typer.Option(help="Model name in the path (default: the service).")
        ] = None,
        v2: Annotated[bool, typer.Option("--v2", help="V2 infer instead of V1 predict.")] = False,
        namespace: Annotated[
            str | None, typer.Option("--namespace", "-n", help="Namespace (default: default).")
        ] = None,
    ) -> None:
        """Send one prediction request to a service through the gateway."""
        from mlservice.cli.objects import connect, guarded

        payload = guarded(lambda: read_payload(data, file))
        with connect() as client:
            answer = guarded(
                lambda: client.predict(
                    name, payload, release, namespace=namespace, model=model, v2=v2
                )
            )
        typer.echo(json.dumps(answer))
