"""`PersistentVolumeClaim` (core `v1`): applying one makes the local volume `pvc://NAME/` means."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from mlservice.resources._base import Passthrough, Quantity
from mlservice.resources.meta import Envelope

AccessMode = Literal["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]


class VolumeResources(Passthrough):
    passthrough: ClassVar[frozenset[str]] = frozenset({"limits"})

    # `storage` is recorded, not enforced, on a local volume.
    requests: dict[str, Quantity] | None = None


class PersistentVolumeClaimSpec(Passthrough):
    passthrough: ClassVar[frozenset[str]] = frozenset(
        {
            "storageClassName",
            "volumeMode",
            "volumeName",
            "selector",
            "dataSource",
            "dataSourceRef",
            "volumeAttributesClassName",
        }
    )

    access_modes: list[AccessMode] | None = None
    resources: VolumeResources | None = None


class PersistentVolumeClaim(Envelope):
    spec: PersistentVolumeClaimSpec = Field(default_factory=PersistentVolumeClaimSpec)
