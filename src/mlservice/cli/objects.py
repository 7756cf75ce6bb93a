"""`mls apply | get | describe | delete | wait`: objects through the API, via the SDK."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from mlservice.cli.output import console, dump, fail, table
from mlservice.client import Client, manifests
from mlservice.client._wire import resolve_kind
from mlservice.errors import InvalidInput, MLServiceError
from mlservice.resources.kinds import KindInfo

T = TypeVar("T")

Namespace = Annotated[
    str | None, typer.Option("--namespace", "-n", help="Namespace (default: default).")
]
Files = Annotated[
    list[Path], typer.Option("--filename", "-f", help="File, directory or - for stdin.")
]


def connect() -> Client:
    """The SDK client, found as the SDK finds it: MLS_API, endpoints.json, the default port."""
    return Client()


def guarded(action: Callable[[], T]) -> T:
    """Run `action`; an MLServiceError becomes `error: ...` lines and exit code 1."""
    try:
        return action()
    except MLServiceError as err:
        fail(err)


def label(kind: str | KindInfo, name: str) -> str:
    """`mlservice/NAME`, as apply and delete report objects."""
    info = kind if isinstance(kind, KindInfo) else _kind(kind)
    return f"{info.singular}/{name}"


def _kind(name: str) -> KindInfo:
    return resolve_kind(name)


def _wait_condition(text: str) -> str:
    found = re.fullmatch(r"condition=([A-Za-z][A-Za-z0-9]*)", text)
    if not found:
        raise InvalidInput(f"--for {text!r} is not supported; use --for condition=Ready.")
    return found[1]


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""

    @app.command()
    def apply(filename: Files, namespace: Namespace = None) -> None:
        """Create or update the objects in manifests (multi-document YAML)."""
        with connect() as client:
            ok = guarded(
                lambda: manifests.apply_paths(
                    client,
                    filename,
                    out=typer.get_text_stream("stdout"),
                    err=typer.get_text_stream("stderr"),
                    namespace=namespace,
                )
            )
        if not ok:
            raise typer.Exit(1)

    @app.command()
    def get(
        kind: Annotated[
            str, typer.Argument(help="mlservices, mlsvc, runtime, isvc, servingruntime, pvc, ...")
        ],
        name: Annotated[str | None, typer.Argument()] = None,
        output: Annotated[
            str | None, typer.Option("--output", "-o", help="yaml, json or wide.")
        ] = None,
        namespace: Namespace = None,
        all_namespaces: Annotated[
            bool, typer.Option("--all-namespaces", "-A", help="List across namespaces.")
        ] = False,
    ) -> None:
        """List objects of a kind, or show one."""
        if output not in (None, "yaml", "json", "wide"):
            fail(InvalidInput(f"-o {output!r} is not one of yaml, json, wide."))
        info = guarded(lambda: _kind(kind))
        with connect() as client:
            if name is not None:
                items = [guarded(lambda: client.get(info, name, namespace=namespace))]
            else:
                items = guarded(
                    lambda: client.list(info, namespace=namespace, all_namespaces=all_namespaces)
                )
        if output in ("yaml", "json"):
            data: Any = items[0] if name else {"apiVersion": "v1", "kind": "List", "items": items}
            typer.echo(dump(data, output))
        elif not items and not info.namespaced:
            typer.echo("No resources found", err=True)
        elif not items:
            where = "any namespace" if all_namespaces else f"{namespace or 'default'} namespace"
            typer.echo(f"No resources found in {where}.", err=True)
        else:
            # A cluster-scoped kind has no namespace to show, with -A or without.
            spread = all_namespaces and info.namespaced
            grid = table(info.kind, items, wide=output == "wide", namespaces=spread)
            console().print(grid)

    @app.command()
    def describe(
        kind: Annotated[str, typer.Argument()],
        name: Annotated[str, typer.Argument()],
        namespace: Namespace = None,
    ) -> None:
        """Show one object in detail: spec, status, conditions, releases."""
        from mlservice.cli.describe import events_of, render

        info = guarded(lambda: _kind(kind))
        with connect() as client:
            obj = guarded(lambda: client.get(info, name, namespace=namespace))
            events = events_of(client, obj)
        console().print(render(obj, events=events), markup=False, highlight=False)

    @app.command()
    def delete(
        kind: Annotated[str | None, typer.Argument()] = None,
        name: Annotated[str | None, typer.Argument()] = None,
        filename: Annotated[
            list[Path] | None, typer.Option("--filename", "-f", help="Delete what a file names.")
        ] = None,
        namespace: Namespace = None,
    ) -> None:
        """Delete an object by kind and name, or every object in manifests (-f)."""
        if filename:
            targets = [
                (
                    d.body.get("kind", ""),
                    d.body.get("metadata", {}).get("name", ""),
                    d.body.get("metadata", {}).get("namespace") or namespace,
                )
                for d in guarded(lambda: manifests.load(filename))
            ]
        elif kind and name:
            targets = [(kind, name, namespace)]
        else:
            fail(InvalidInput("Give KIND NAME, or -f FILE."))
        ok = True
        with connect() as client:
            for kind_name, obj_name, obj_namespace in targets:
                try:
                    client.delete(_kind(kind_name), obj_name, namespace=obj_namespace)
                except MLServiceError as err:
                    ok = False
                    for line in manifests.error_lines(err):
                        typer.echo(line, err=True)
                    continue
                typer.echo(f"{label(kind_name, obj_name)} deleted")
        if not ok:
            raise typer.Exit(1)

    @app.command()
    def wait(
        kind: Annotated[str, typer.Argument()],
        name: Annotated[str, typer.Argument()],
        for_: Annotated[str, typer.Option("--for", help="condition=Ready")] = "condition=Ready",
        timeout: Annotated[float, typer.Option(help="Seconds to wait.", min=0)] = 120.0,
        namespace: Namespace = None,
    ) -> None:
        """Wait until an object reports a condition as True."""
        condition = guarded(lambda: _wait_condition(for_))
        info = guarded(lambda: _kind(kind))
        with connect() as client:
            guarded(
                lambda: client.wait_ready(
                    info, name, namespace=namespace, condition=condition, timeout=timeout
                )
            )
        typer.echo(f"{label(info, name)} condition met")
