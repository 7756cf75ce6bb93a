"""`mls storage-init URI [DEST]`: a pod's `storage-initializer` init container
(`storage.fetch_into`).

Exit codes a reader of `kubectl logs -c storage-initializer` (or of the pod's
`Init:CrashLoopBackOff`) can act on: 0 fetched (or already there), 2 the URI or the
credentials' settings are wrong (fix the manifest or the Secret), 3 the model is not there
(wrong path, bucket or claim), 4 access denied (the Secret's keys), 5 the source is unreachable
(network, endpoint: worth a retry), 1 anything else (a refused archive, a full disk). The last
line on stderr is always `error: ...`, one sentence naming the URI, never a credential.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from mlservice.errors import (
    InvalidStorageSource,
    MLServiceError,
    StorageAccessDenied,
    StorageNotFound,
    StorageUnreachable,
)

DEFAULT_DEST = Path("/mnt/models")
CLAIM_ROOT = Path("/mnt/pvc")  # where KServe mounts a pvc:// URI's claim in this container

EXIT_CODES: tuple[tuple[type[MLServiceError], int], ...] = (
    (InvalidStorageSource, 2),
    (StorageNotFound, 3),
    (StorageAccessDenied, 4),
    (StorageUnreachable, 5),
)


def exit_code(error: MLServiceError) -> int:
    """The exit status for `error`: the first class in `EXIT_CODES` it is an instance of."""
    return next((code for kind, code in EXIT_CODES if isinstance(error, kind)), 1)


def storage_init(
    uri: Annotated[str, typer.Argument(help="pvc://CLAIM/PATH, s3://BUCKET/PREFIX or http(s)://")],
    dest: Annotated[Path, typer.Argument(help="Folder to fill.")] = DEFAULT_DEST,
    claim_root: Annotated[
        Path,
        typer.Option(
            "--claim-root", envvar="MLS_CLAIM_ROOT", help="Where a pvc:// URI's claim is mounted."
        ),
    ] = CLAIM_ROOT,
    s3cfg: Annotated[
        Path | None,
        typer.Option(
            "--s3cfg",
            envvar="MLS_S3CFG",
            help="An .s3cfg file (the S3 Secret mounted); else AWS_*/S3_* variables.",
        ),
    ] = None,
) -> None:
    """Fetch a model into DEST (default /mnt/models): a pod's storage-initializer.

    S3 settings come from --s3cfg, else the variables KServe's storage initializer reads:
    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL or S3_ENDPOINT, S3_USE_HTTPS,
    S3_VERIFY_SSL, AWS_REGION, S3_USER_VIRTUAL_BUCKET."""
    from mlservice.storage.fetch import fetch_into
    from mlservice.storage.s3cfg import parse_s3cfg, s3_config_from_env

    def say(line: str) -> None:
        typer.echo(line, err=line.startswith("error: "))

    try:
        config = parse_s3cfg(_read(s3cfg)) if s3cfg is not None else s3_config_from_env(os.environ)
    except MLServiceError as exc:
        say(f"error: {exc.message}")
        raise typer.Exit(exit_code(exc)) from None
    try:
        fetch_into(uri, dest, claim_root=claim_root, s3=config, log=say)
    except MLServiceError as exc:  # its `error: ...` line is in the log already
        raise typer.Exit(exit_code(exc)) from None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise InvalidStorageSource(
            f"The .s3cfg file {path} cannot be read ({exc.strerror or type(exc).__name__})."
        ) from None


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command(name="storage-init")(storage_init)
