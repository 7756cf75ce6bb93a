"""From a rendered pod to what the engine runs: containers, env, probes, volumes.

`$(VAR)` references stay in command, args and env for the engine to expand once it knows the
replica's ports. Values the controller resolves (a `secretKeyRef`) are escaped (`$` -> `$$`)
so that expansion leaves them exactly as stored.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlservice.engine import (
    ContainerPort,
    ContainerSpec,
    HTTPGetAction,
    Probe,
    Resources,
    TCPSocketAction,
)
from mlservice.errors import InvalidInput, NotFound
from mlservice.home import Home
from mlservice.resources import Secret, parse_as
from mlservice.runtime import Probe as RenderedProbe
from mlservice.runtime import RenderedContainer, RenderedReplica
from mlservice.store import Key, Store

ValueFrom = Callable[[Mapping[str, Any]], str | None]


class RuntimeUnavailable(Exception):
    """A program the pod needs is not installed here; the message says which."""


def containers(
    rendered: RenderedReplica, *, value_from: ValueFrom, extra_env: Mapping[str, str]
) -> tuple[ContainerSpec, ...]:
    """The serving container first, then the sidecars; `extra_env` goes to every container."""
    return tuple(
        _container(c, value_from=value_from, extra_env=extra_env)
        for c in (rendered.container, *rendered.sidecars)
    )


def _container(
    c: RenderedContainer, *, value_from: ValueFrom, extra_env: Mapping[str, str]
) -> ContainerSpec:
    command, args = c.command, c.args
    if not command and args:
        # No image entrypoint exists locally: the first argument names the program.
        command, args = args[:1], args[1:]
    return ContainerSpec(
        name=c.name,
        command=command,
        args=args,
        env={**_env(c, value_from), **extra_env},
        working_dir=c.working_dir,
        ports=tuple(ContainerPort(p.container_port, p.name) for p in c.ports),
        readiness_probe=_probe(c.readiness_probe),
        resources=Resources(limits=dict(c.resources.limits), requests=dict(c.resources.requests)),
    )


def _env(c: RenderedContainer, value_from: ValueFrom) -> dict[str, str]:
    env: dict[str, str] = {}
    for var in c.env:
        if var.value_from is None:
            env[var.name] = var.value
            continue
        resolved = value_from(var.value_from)
        if resolved is not None:
            env[var.name] = resolved.replace("$", "$$")
    return env


def _probe(probe: RenderedProbe | None) -> Probe | None:
    if probe is None:
        return None
    # A port of None is the serving port, which the engine maps to the replica's own PORT.
    http = HTTPGetAction(port=probe.port, path=probe.http_path) if probe.http_path else None
    return Probe(
        http_get=http,
        tcp_socket=TCPSocketAction(port=probe.port) if probe.tcp else None,
        initial_delay_seconds=probe.initial_delay_seconds,
        period_seconds=probe.period_seconds,
        timeout_seconds=probe.timeout_seconds,
        success_threshold=probe.success_threshold or 1,
        failure_threshold=probe.failure_threshold or 3,
    )


def secret_values(store: Store, namespace: str) -> ValueFrom:
    """Resolves `valueFrom.secretKeyRef` against the namespace's Secrets; other sources
    (`fieldRef`, ...) have no local meaning and leave the variable out."""

    def resolve(source: Mapping[str, Any]) -> str | None:
        ref = source.get("secretKeyRef")
        if not isinstance(ref, Mapping):
            return None
        name, key, optional = ref.get("name"), ref.get("key"), bool(ref.get("optional"))
        try:
            secret = parse_as(Secret, store.get(Key("", "Secret", namespace, str(name))))
        except NotFound:
            if optional:
                return None
            raise InvalidInput(
                f"Secret {namespace}/{name} (an env secretKeyRef) does not exist."
            ) from None
        value = secret.decoded().get(str(key))
        if value is None and not optional:
            raise InvalidInput(f"Secret {namespace}/{name} has no key {key!r} (a secretKeyRef).")
        return None if value is None else value.decode(errors="replace")

    return resolve


def volume_dirs(rendered: RenderedReplica, *, home: Home) -> dict[str, Path]:
    """Mount path -> local folder for every PersistentVolumeClaim volume a container mounts."""
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in rendered.volumes
        if isinstance(v.get("persistentVolumeClaim"), Mapping)
    }
    found: dict[str, Path] = {}
    for c in (rendered.container, *rendered.sidecars):
        for mount in c.volume_mounts:
            if mount.name in claims:
                folder = home.volume(claims[mount.name])
                found[mount.mount_path] = folder / mount.sub_path if mount.sub_path else folder
    return found


def replica_path() -> str:
    """The PATH replicas get (the engine puts our interpreter's folder first)."""
    return os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", os.defpath)])


def check_programs(command: Sequence[str], required: Sequence[str], *, where: str) -> None:
    """Raise RuntimeUnavailable when the pod's program, or one it requires, is not installed."""
    path = replica_path()
    wanted = [*required, *([command[0]] if command and "$(" not in command[0] else [])]
    for program in wanted:
        if shutil.which(program, path=path) is None:
            raise RuntimeUnavailable(
                f"{where} runs {program!r}, which is not installed on this machine "
                "(not found on PATH)."
            )
