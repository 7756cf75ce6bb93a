"""The resource kinds the API serves, and the names the CLI accepts for each."""

from __future__ import annotations

from dataclasses import dataclass

GROUP = "tensorstack.dev"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
KSERVE_GROUP = "serving.kserve.io"


@dataclass(frozen=True)
class KindInfo:
    kind: str
    group: str  # "" for the Kubernetes core group (`/api/v1`)
    version: str
    plural: str
    singular: str
    short_names: tuple[str, ...] = ()
    namespaced: bool = True
    # What discovery tells kubectl; KServe's runtime CRDs declare no status subresource.
    status_subresource: bool = True
    categories: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def names(self) -> tuple[str, ...]:
        return (self.plural, self.singular, *self.short_names)


KINDS: tuple[KindInfo, ...] = (
    # Our service kinds are in `kubectl get all`; KServe's CRDs declare no categories, so
    # InferenceService is not (as on a cluster).
    KindInfo(
        "MLService", GROUP, VERSION, "mlservices", "mlservice", ("mlsvc",), categories=("all",)
    ),
    KindInfo(
        "SimpleMLService",
        GROUP,
        VERSION,
        "simplemlservices",
        "simplemlservice",
        ("smlsvc",),
        categories=("all",),
    ),
    KindInfo(
        "MLServiceRuntime", GROUP, VERSION, "mlserviceruntimes", "mlserviceruntime", ("runtime",)
    ),
    KindInfo("Secret", "", "v1", "secrets", "secret"),
    KindInfo(
        "PersistentVolumeClaim",
        "",
        "v1",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        ("pvc",),
    ),
    KindInfo(
        "ServiceAccount",
        "",
        "v1",
        "serviceaccounts",
        "serviceaccount",
        ("sa",),
        status_subresource=False,  # as Kubernetes serves it
    ),
    KindInfo("Event", "", "v1", "events", "event", ("ev",)),
    # KServe's kinds, named as its CRDs name them (kserve/kserve config/crd).
    KindInfo(
        "InferenceService",
        KSERVE_GROUP,
        "v1beta1",
        "inferenceservices",
        "inferenceservice",
        ("isvc",),
    ),
    KindInfo(
        "ServingRuntime",
        KSERVE_GROUP,
        "v1alpha1",
        "servingruntimes",
        "servingruntime",
        status_subresource=False,
    ),
    KindInfo(
        "ClusterServingRuntime",
        KSERVE_GROUP,
        "v1alpha1",
        "clusterservingruntimes",
        "clusterservingruntime",
        namespaced=False,
        status_subresource=False,
    ),
    KindInfo("TrainedModel", KSERVE_GROUP, "v1alpha1", "trainedmodels", "trainedmodel", ("tm",)),
)


def by_kind(kind: str) -> KindInfo | None:
    return next((k for k in KINDS if k.kind == kind), None)


def by_name(name: str) -> KindInfo | None:
    """Resolve what a user typed (`mlsvc`, `MLService`, `secrets`) to a kind."""
    lowered = name.lower()
    return next((k for k in KINDS if lowered in k.names or lowered == k.kind.lower()), None)


def by_plural(group: str, plural: str) -> KindInfo | None:
    return next((k for k in KINDS if k.group == group and k.plural == plural), None)


def group_versions() -> dict[str, list[str]]:
    """Each API group (core excluded) with its versions, the preferred (first declared) first."""
    groups: dict[str, list[str]] = {}
    for kind in KINDS:
        if kind.group and kind.version not in groups.setdefault(kind.group, []):
            groups[kind.group].append(kind.version)
    return groups
