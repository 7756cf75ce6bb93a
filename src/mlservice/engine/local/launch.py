"""Turning a rendered container into a process launch: env, `$(VAR)` expansion, mount paths.

The engine's variables (`PORT`, `GRPC_PORT`, `MODEL_DIR`, `MLS_*`) exist only once a replica
has ports, so the renderer leaves `$(PORT)` in args for the engine to expand here, once, with
the kubelet's rules (`mlservice.runtime.expand`): a reference to an unknown variable stays as
written and `$$` is a literal `$`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlservice.engine.base import ReplicaId
from mlservice.engine.local.paths import ReplicaDir
from mlservice.engine.local.process import Launch
from mlservice.errors import LaunchError
from mlservice.runtime import RenderedContainer, expand
from mlservice.runtime.replica import DEFAULT_PORT

if TYPE_CHECKING:
    from mlservice.engine.local.resolve import LocalRevision

# Never hand the control plane's credentials to user code.
_NOT_INHERITED = frozenset({"MLS_TOKEN"})
# Logs are files, not a terminal: unbuffered Python output keeps `mls logs -f` and crash
# messages complete. The spec's env or the engine's own env may still say otherwise.
_LOCAL_DEFAULTS = {"PYTHONUNBUFFERED": "1"}


@dataclass(frozen=True)
class ReplicaContext:
    revision: LocalRevision
    replica_id: ReplicaId
    dirs: ReplicaDir
    port: int
    grpc_port: int


def rewrite_mounts(text: str, mounts: Mapping[str, Path]) -> str:
    """Replace each mount path (as a whole path prefix) with its local directory."""
    for mount, local in mounts.items():
        pattern = re.escape(mount.rstrip("/")) + r"(?=/|$|[^-\w.])"
        text = re.sub(pattern, str(local).replace("\\", r"\\"), text)
    return text


def uses_dynamic_port(container: RenderedContainer) -> bool:
    """A container listens on the engine's `PORT` unless it declares a port and never asks
    for `$(PORT)`: then it runs only on that fixed port."""
    if not container.ports:
        return True
    # A Secret's value is data, never a reference: only the spec's own values count.
    own = (v.value or "" for v in container.env if v.value_from is None)
    texts = (*container.command, *container.args, *own)
    return any("$(PORT)" in text for text in texts)


def container_port(container: RenderedContainer) -> int:
    return container.ports[0].container_port if container.ports else DEFAULT_PORT


def engine_variables(ctx: ReplicaContext) -> dict[str, str]:
    rev = ctx.revision.revision
    return {
        "PORT": str(ctx.port),
        "GRPC_PORT": str(ctx.grpc_port),
        "MLS_SERVICE": rev.service,
        "MLS_RELEASE": rev.release,
        "MLS_COMPONENT": rev.component,
        "MLS_NAMESPACE": rev.namespace,
        "MLS_REPLICA": ctx.replica_id,
        **ctx.revision.variables,
    }


def build_launch(
    container: RenderedContainer, ctx: ReplicaContext, *, cpus: frozenset[int] | None = None
) -> Launch:
    if not container.command:
        raise LaunchError(
            f"container {container.name} has no command; the local engine cannot run an "
            "image's entrypoint."
        )
    mounts = ctx.revision.mounts

    def local(text: str) -> str:
        return rewrite_mounts(text, mounts)

    variables = container.environment(engine_variables(ctx), rewrite=local)
    argv = tuple(container.argv(variables, rewrite=local))
    inherited = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    inherited["PATH"] = search_path(inherited.get("PATH"))
    return Launch(
        argv=argv,
        env={**_LOCAL_DEFAULTS, **inherited, **variables},
        cwd=_working_dir(container, ctx, mounts, variables),
        log_path=ctx.dirs.log(container.name),
        cpus=cpus,
    )


def search_path(path: str | None) -> str:
    """PATH with this interpreter's folder first: built-in runtimes run `mls` and `python`,
    which must be ours even when `mls up` was started as `.venv/bin/mls` outside the venv."""
    ours = os.path.dirname(sys.executable)
    rest = [p for p in (path or os.defpath).split(os.pathsep) if p and p != ours]
    return os.pathsep.join([ours, *rest])


def _working_dir(
    container: RenderedContainer,
    ctx: ReplicaContext,
    mounts: Mapping[str, Path],
    variables: Mapping[str, str],
) -> Path:
    own = ctx.dirs.workdir(container.name)
    own.mkdir(parents=True, exist_ok=True)
    if not container.working_dir:
        return own
    wanted = own / rewrite_mounts(expand(container.working_dir, variables), mounts)
    if not wanted.is_dir():
        # Creating arbitrary host directories is not ours to do; say what is missing.
        raise LaunchError(
            f"container {container.name} has workingDir {container.working_dir!r}, "
            f"which is {wanted} on this machine and does not exist."
        )
    return wanted
