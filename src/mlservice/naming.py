"""Every name mlservice gives things: components, revisions, hosts, URLs and label keys.

One module, so the controllers, the gateway, the SDK, the demo and the Kubernetes renderer
cannot drift apart: a host a status URL names is the host the gateway routes and the host the
SDK sends. It imports nothing of ours, so every layer may use it.

Revisions are `{name}-{component}-{release}-{NNNNN}` with a sequence per component (design):
`iris-predict-v1-00001`; a transformer has no release (`iris-transform-00001`) and a
SimpleMLService's component is `simple` (`iris-simple-00001`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

Component = Literal["predict", "transform"]
"""What a revision does on the request path: answer (predict) or wrap the predictor."""

_SEQUENCE = re.compile(r"-(\d{5,})$")

# Label keys of ours. Kubernetes reserves unprefixed keys for users and `*.kubernetes.io`
# for itself, so every key is under a domain we own.
LABEL_PREFIX: Final = "serving.mlservice.dev/"
KIND_LABEL: Final = LABEL_PREFIX + "kind"
SERVICE_LABEL: Final = LABEL_PREFIX + "service"
COMPONENT_LABEL: Final = LABEL_PREFIX + "component"
RELEASE_LABEL: Final = LABEL_PREFIX + "release"
REVISION_LABEL: Final = LABEL_PREFIX + "revision"
REVISION_HASH_LABEL: Final = LABEL_PREFIX + "revision-hash"
# The labels KServe puts on an InferenceService's pods (`constants.InferenceServicePodLabelKey`
# and `KServiceComponentLabel`), so `kubectl get pods -l` selects as on a cluster.
KSERVE_ISVC_LABEL: Final = "serving.kserve.io/inferenceservice"
KSERVE_COMPONENT_LABEL: Final = "component"


@dataclass(frozen=True, order=True)
class ComponentKey:
    """One component of a service: a release's predictor, or the transformer (no release).

    `token` is the component's part of revision names; it defaults to the component and a
    kind may choose another (a SimpleMLService's is `simple`)."""

    component: Component = "predict"
    release: str | None = None
    token: str = ""

    @property
    def name_part(self) -> str:
        return self.token or self.component

    def __str__(self) -> str:
        return self.name_part if self.release is None else f"{self.name_part}/{self.release}"


def transformer_key() -> ComponentKey:
    return ComponentKey("transform")


def kserve_predictor_key() -> ComponentKey:
    """An InferenceService's predictor: revisions `{name}-predictor-{NNNNN}`, as KServe's."""
    return ComponentKey("predict", None, token="predictor")


def kserve_transformer_key() -> ComponentKey:
    """An InferenceService's transformer: revisions `{name}-transformer-{NNNNN}`."""
    return ComponentKey("transform", None, token="transformer")


def revision_name(service: str, key: ComponentKey, sequence: int) -> str:
    parts = [service, key.name_part, *([key.release] if key.release else []), f"{sequence:05d}"]
    return "-".join(parts)


def sequence_of(revision: str) -> int:
    """The trailing sequence number of a revision name (0 if it has none)."""
    found = _SEQUENCE.search(revision)
    return int(found[1]) if found else 0


def revision_labels(
    *, kind: str, service: str, key: ComponentKey, revision: str, hash_: str
) -> dict[str, str]:
    """The labels every revision carries: which object, component and release it belongs to."""
    labels = {
        KIND_LABEL: kind.lower(),
        SERVICE_LABEL: service,
        COMPONENT_LABEL: key.component,
        REVISION_LABEL: revision,
        REVISION_HASH_LABEL: hash_,
    }
    if key.release is not None:
        labels[RELEASE_LABEL] = key.release
    return labels


def pod_name(revision: str, suffix: str) -> str:
    """A replica's name as a Pod: `{revision}-deployment-{suffix}`, as KServe's pods read."""
    return f"{revision}-deployment-{suffix}"


def release_label(service: str, release: str) -> str:
    """The DNS label of a release's host; at most 63 characters, which validation checks."""
    return f"{service}-predict-{release}"


def predictor_label(service: str) -> str:
    return f"{service}-predictor"


def transformer_label(service: str) -> str:
    return f"{service}-transformer"


def tag_label(service: str, tag: str) -> str:
    """A tag's host label of an InferenceService's predictor (`latest-`, `prev-`)."""
    return f"{tag}-{predictor_label(service)}"


@dataclass(frozen=True)
class Hosts:
    """Host names of the gateway routes of a service, and the URLs status reports for them.

    Hosts are lower-case: the gateway compares Host headers lower-cased, as DNS does."""

    domain: str
    port: int = 80

    def url(self, host: str) -> str:
        """`http://{host}:{port}`, the port left out when it is HTTP's own 80."""
        return f"http://{host}" if self.port == 80 else f"http://{host}:{self.port}"

    def service(self, name: str, namespace: str) -> str:
        """The service's own host: the transformer if there is one, else the release split."""
        return self._host(name, namespace)

    def predictor(self, name: str, namespace: str) -> str:
        """The split without the transformer: the transformer's own hop to the predictors."""
        return self._host(predictor_label(name), namespace)

    def release(self, name: str, namespace: str, release: str) -> str:
        return self._host(release_label(name, release), namespace)

    def tagged(self, name: str, namespace: str, tag: str) -> str:
        """A tag's host of an InferenceService's predictor (`latest-`, `prev-`), as KServe's
        tag routing names them."""
        return self._host(tag_label(name, tag), namespace)

    def transformer(self, name: str, namespace: str) -> str:
        return self._host(transformer_label(name), namespace)

    def simple(self, name: str, namespace: str) -> str:
        """A SimpleMLService's host, named like a Kubernetes Service's DNS name."""
        return self._host(name, f"{namespace}.svc")

    def _host(self, label: str, namespace: str) -> str:
        return f"{label}.{namespace}.{self.domain}".lower()
