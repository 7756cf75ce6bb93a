"""`mls logs NAME`: a replica's log, read from the data dir (the CLI runs where `mls up` runs).

The object (an MLService, else a SimpleMLService) is read through the API to learn which
revision is current; its files are under `$MLS_HOME/replicas/<ns>/<revision>/`: the shared
`storage-initializer.log`, and per replica `<container>.log`. The newest replica of the newest
revision is shown unless `--replica` names another.
"""

from __future__ import annotations

import collections
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from mlservice.engine.local.paths import container_log
from mlservice.errors import InvalidInput, MLServiceError, NotFound
from mlservice.home import Home

USER_CONTAINER = "user-container"
FOLLOW_PERIOD = 0.2
Obj = dict[str, Any]


def revision_of(obj: Obj, *, release: str | None, component: str) -> str:
    """The newest revision of the component; InvalidInput naming what is missing."""
    status, ref = obj.get("status") or {}, _ref(obj)
    if obj.get("kind") == "SimpleMLService":
        part: Obj = status
    elif component == "transformer":
        part = status.get("transformer") or {}
        if not part:
            raise InvalidInput(f"MLService {ref} has no transformer running.")
    else:
        wanted = release or status.get("defaultRelease") or obj["spec"]["default"]
        rows = status.get("releases") or []
        part = next((r for r in rows if r.get("name") == wanted), {})
        if not any(r["name"] == wanted for r in obj["spec"]["releases"]):
            raise InvalidInput(f"MLService {ref} has no release {wanted!r}.")
    revision = part.get("latestRevision") or part.get("readyRevision")
    if not revision:
        raise InvalidInput(f"{obj.get('kind')} {ref} has no revision yet; see `mls describe`.")
    return str(revision)


def log_file(
    home: Home, namespace: str, revision: str, *, container: str, replica: str | None
) -> Path:
    return container_log(home, namespace, revision, container=container, replica=replica)


def print_tail(path: Path, *, lines: int | None, out: IO[str]) -> int:
    """Print the file (its last `lines` lines); returns the offset printed up to."""
    with path.open("rb") as file:
        kept = collections.deque(file, maxlen=lines) if lines is not None else list(file)
        offset = file.tell()
    out.write(b"".join(kept).decode(errors="replace"))
    out.flush()
    return offset


def follow(path: Path, *, offset: int, out: IO[str], period: float = FOLLOW_PERIOD) -> None:
    """Print what is appended to `path` until interrupted; starts over if the file rotates."""
    while True:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size < offset:
            offset = 0  # rotated or recreated: the new file from its start
        if size > offset:
            with path.open("rb") as file:
                file.seek(offset)
                chunk = file.read(size - offset)
            offset += len(chunk)
            out.write(chunk.decode(errors="replace"))
            out.flush()
        time.sleep(period)


def show_requests(
    name: str,
    *,
    namespace: str | None,
    release: str | None,
    follow: bool,
    tail: int | None,
    out: IO[str],
) -> None:
    """`--requests`: the service's request log (the gateway writes it under the data dir) in
    the reference's human format; `--release` keeps one release's events."""
    from mlservice.gateway.reqlog import human, localfile

    folder = Home.from_env().request_logs
    ns = namespace or "default"

    def mine(docs: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        return (d for d in docs if human.matches(d, service=name, namespace=ns, release=release))

    shown = collections.deque(mine(localfile.read_events(folder)), maxlen=tail)
    for doc in shown:
        out.write(human.format_event(doc))
    out.flush()
    if follow:
        for doc in mine(localfile.follow(folder, poll=FOLLOW_PERIOD)):
            out.write(human.format_event(doc))
            out.flush()


def _ref(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def _find(name: str, namespace: str | None) -> Obj:
    from mlservice.client import Client

    with Client() as client:
        for kind in ("mlservice", "simplemlservice"):
            try:
                return client.get(kind, name, namespace=namespace)
            except NotFound:
                continue
    raise NotFound(f"No MLService or SimpleMLService {namespace or 'default'}/{name} exists.")


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""

    @app.command()
    def logs(
        name: Annotated[str, typer.Argument(help="MLService or SimpleMLService name.")],
        release: Annotated[str | None, typer.Option(help="Release (default: default).")] = None,
        component: Annotated[str, typer.Option(help="predictor or transformer.")] = "predictor",
        container: Annotated[
            str, typer.Option(help="user-container, storage-initializer or a sidecar.")
        ] = USER_CONTAINER,
        replica: Annotated[str | None, typer.Option(help="Replica (default: newest).")] = None,
        follow_: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing.")] = False,
        tail: Annotated[int | None, typer.Option(min=0, help="Only the last N lines.")] = None,
        namespace: Annotated[str | None, typer.Option("--namespace", "-n")] = None,
        requests: Annotated[
            bool, typer.Option("--requests", help="The request log instead.")
        ] = False,
    ) -> None:
        """Print a replica's log (storage-initializer or a container)."""
        from mlservice.cli.output import fail

        out = typer.get_text_stream("stdout")
        try:
            if requests:
                show_requests(
                    name, namespace=namespace, release=release, follow=follow_, tail=tail, out=out
                )
                return
            if component not in ("predictor", "transformer"):
                raise InvalidInput(f"--component {component!r} is not predictor or transformer.")
            obj = _find(name, namespace)
            revision = revision_of(obj, release=release, component=component)
            ns = obj["metadata"]["namespace"]
            path = log_file(Home.from_env(), ns, revision, container=container, replica=replica)
            offset = print_tail(path, lines=tail, out=out)
            if follow_:
                follow(path, offset=offset, out=out)
        except MLServiceError as err:
            fail(err)
        except KeyboardInterrupt:
            sys.exit(130)
