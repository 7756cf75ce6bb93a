"""`ServiceAccount` (core `v1`): here only what KServe reads of one, the Secrets it lists.

KServe's credential builder scans a predictor's ServiceAccount (`serviceAccountName`, else
`default`) for storage credentials; `imagePullSecrets` and the token settings are kept as
given, meaningful only on a cluster.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from mlservice.resources._base import Passthrough
from mlservice.resources.meta import Envelope


class SecretReference(Passthrough):
    """An entry of `secrets` (an ObjectReference: only its `name` matters here)."""

    passthrough: ClassVar[frozenset[str]] = frozenset(
        {"namespace", "kind", "apiVersion", "uid", "resourceVersion", "fieldPath"}
    )

    name: str = Field(min_length=1)


class LocalObjectReference(Passthrough):
    name: str = Field(min_length=1)


class ServiceAccount(Envelope):
    secrets: list[SecretReference] | None = None
    image_pull_secrets: list[LocalObjectReference] | None = None
    automount_service_account_token: bool | None = None

    @property
    def secret_names(self) -> tuple[str, ...]:
        """The Secrets it lists, in order (the order KServe scans them in)."""
        return tuple(ref.name for ref in self.secrets or ())
