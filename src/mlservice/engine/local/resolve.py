"""Resolving an engine-neutral `Revision` on this machine: what a kubelet and its image do.

In this order, so nothing is fetched for a pod that could never run: Secret values of
`secretKeyRef` env vars (a missing Secret or key is `InvalidInput`, Kubernetes'
`CreateContainerConfigError`), programs on PATH (`RuntimeUnavailable`, where a cluster would
have the image), then the model (the storage-initializer: `fetch_model` into the shared cache
or in place, progress in the revision's `storage-initializer.log`; `StorageError`; its
credentials from our `.s3cfg` Secret or KServe's ServiceAccount and `storage-config`, see
`credentials`), and the folders of the PersistentVolumeClaims the containers mount.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from mlservice.engine.local.credentials import (
    SecretLookup,
    ServiceAccountLookup,
    model_location,
    no_service_accounts,
)
from mlservice.engine.local.launch import search_path
from mlservice.engine.local.paths import storage_log
from mlservice.engine.revision import ModelSource, Revision, RevisionId
from mlservice.errors import (
    InvalidInput,
    NotFound,
    RuntimeUnavailable,
    StorageError,
    UnsafePath,
)
from mlservice.home import Home
from mlservice.resources import Secret
from mlservice.resources.secret import S3_KEY, S3_LABEL, S3_LABEL_VALUE
from mlservice.runtime import RenderedContainer
from mlservice.storage import S3Config, check_volume_name, fetch_model, safe_join


def no_secrets(namespace: str, name: str) -> Secret:
    raise NotFound(f"Secret {namespace}/{name} does not exist (this engine has no Secrets).")


@dataclass(frozen=True)
class LocalRevision:
    """A revision resolved for this machine; replicas are started from it."""

    revision: Revision
    containers: tuple[RenderedContainer, ...]
    """Serving container first; `secretKeyRef` values filled in (kept literal at launch)."""
    model_dir: Path | None = None
    mounts: Mapping[str, Path] = field(default_factory=dict)
    """Mount path -> local folder: the model's and every claim a container mounts."""
    variables: Mapping[str, str] = field(default_factory=dict)
    """Engine variables besides the replica's own (`MODEL_DIR`, `PREDICTOR_HOST`, ...)."""

    @property
    def id(self) -> RevisionId:
        return self.revision.id

    @property
    def user_container(self) -> RenderedContainer:
        return self.containers[0]


class Resolver:
    def __init__(
        self,
        *,
        home: Home,
        secrets: SecretLookup = no_secrets,
        accounts: ServiceAccountLookup = no_service_accounts,
        gateway: str = "127.0.0.1:8080",
    ) -> None:
        self.home = home
        self.secrets = secrets
        self.accounts = accounts
        self.gateway = gateway

    async def resolve(self, revision: Revision) -> LocalRevision:
        containers = tuple(self._container(revision, c) for c in revision.containers)
        check_programs(containers[0].command, revision.requires, where=_where(revision))
        model_dir = await self._model(revision, revision.model) if revision.model else None
        mounts = volume_dirs(revision, home=self.home)
        variables: dict[str, str] = {}
        if revision.model is not None and model_dir is not None:
            mounts[revision.model.mount_path] = model_dir
            variables["MODEL_DIR"] = str(model_dir)
        if revision.predictor_host is not None:
            variables["PREDICTOR_HOST"] = self.gateway
            variables["PREDICTOR_HOST_HEADER"] = revision.predictor_host
        return LocalRevision(revision, containers, model_dir, mounts, variables)

    def _container(self, revision: Revision, c: RenderedContainer) -> RenderedContainer:
        command, args = c.command, c.args
        if not command and args:
            # No image entrypoint exists locally: the first argument names the program.
            command, args = args[:1], args[1:]
        env = []
        for var in c.env:
            if var.value_from is None:
                env.append(var)
                continue
            value = self._value_from(revision.namespace, var.value_from)
            if value is not None:
                env.append(replace(var, value=value))
        return replace(c, command=command, args=args, env=tuple(env))

    def _value_from(self, namespace: str, source: Mapping[str, object]) -> str | None:
        """A `secretKeyRef`'s value; other sources (`fieldRef`, ...) have no local meaning and
        leave the variable out."""
        ref = source.get("secretKeyRef")
        if not isinstance(ref, Mapping):
            return None
        name, key, optional = ref.get("name"), ref.get("key"), bool(ref.get("optional"))
        try:
            secret = self.secrets(namespace, str(name))
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

    async def _model(self, revision: Revision, source: ModelSource) -> Path:
        ns = revision.namespace
        uri, s3 = model_location(source, namespace=ns, secrets=self.secrets, accounts=self.accounts)
        s3cfg: str | S3Config | None = s3
        if source.secret:
            s3cfg = s3cfg_of(self.secrets, ns, source.secret)
        log_path = storage_log(self.home, ns, revision.name)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        return await asyncio.to_thread(_fetch, uri, self.home, s3cfg, log_path)


def s3cfg_of(secrets: SecretLookup, namespace: str, name: str) -> str:
    """The `.s3cfg` text of Secret `namespace/name`; StorageError naming what is wrong."""
    try:
        secret = secrets(namespace, name)
    except NotFound:
        raise StorageError(f"Secret {namespace}/{name} does not exist.") from None
    if not secret.is_s3:
        raise StorageError(
            f"Secret {namespace}/{name} lacks the label {S3_LABEL}: {S3_LABEL_VALUE}."
        )
    raw = secret.decoded().get(S3_KEY)
    if raw is None:
        raise StorageError(f"Secret {namespace}/{name} has no {S3_KEY} key.")
    try:
        return raw.decode()
    except UnicodeDecodeError:
        # The text itself is a credential: say where it is, never what it holds.
        raise StorageError(f"Secret {namespace}/{name} key {S3_KEY} is not UTF-8.") from None


def _fetch(uri: str, home: Home, s3cfg: str | S3Config | None, log_path: Path) -> Path:
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"{datetime.now(UTC).isoformat(timespec='seconds')} storage-initializer\n")
        return fetch_model(uri, home=home, secret_s3cfg=s3cfg, log=log)


def volume_dirs(revision: Revision, *, home: Home) -> dict[str, Path]:
    """Mount path -> local folder for every PersistentVolumeClaim volume a container mounts.

    The claim must be a volume's name and a `subPath` must stay inside the volume on disk (no
    `..`, no symlink leading out): InvalidInput naming the claim or subPath otherwise, as a
    kubelet refuses such a pod. The API checks claim names at apply too; this is for templates
    and objects stored before it did.
    """
    claims = {
        v["name"]: v["persistentVolumeClaim"].get("claimName")
        for v in revision.pod_spec.get("volumes", [])
        if isinstance(v.get("persistentVolumeClaim"), Mapping)
    }
    where = _where(revision)
    found: dict[str, Path] = {}
    for c in revision.containers:
        for mount in c.volume_mounts:
            if mount.name not in claims:
                continue
            claim = claims[mount.name]
            reason = check_volume_name(claim) if isinstance(claim, str) else "is not a string"
            if reason is not None:
                raise InvalidInput(
                    f"{where}: volume {mount.name!r} claims {claim!r}, which {reason}."
                )
            folder = home.volume(claim)
            if mount.sub_path:
                try:
                    folder = safe_join(folder, mount.sub_path, within=f"volume {claim}")
                except UnsafePath as exc:
                    raise InvalidInput(
                        f"{where}: container {c.name} mounts volume {mount.name!r} with subPath "
                        f"{mount.sub_path!r}, a path that {exc.why}."
                    ) from None
            found[mount.mount_path] = folder
    return found


def check_programs(command: tuple[str, ...], required: tuple[str, ...], *, where: str) -> None:
    """Raise RuntimeUnavailable when the pod's program, or one it requires, is not installed."""
    path = search_path(os.environ.get("PATH"))
    wanted = [*required, *([command[0]] if command and "$(" not in command[0] else [])]
    for program in wanted:
        if shutil.which(program, path=path) is None:
            raise RuntimeUnavailable(
                f"{where} runs {program!r}, which is not installed on this machine "
                "(not found on PATH)."
            )


def _where(revision: Revision) -> str:
    return f"{revision.kind} {revision.namespace}/{revision.service} ({revision.key})"
