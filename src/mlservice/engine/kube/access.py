"""What the operator reads and writes, per mode: the resources it watches and the verbs it
calls on them, the one source of both its kopf registry and `mls kube install`'s ClusterRole.

The verbs follow its calls: kopf lists and watches every resource it has a handler or an
index for, and patches a parent's annotations (its progress and last-handled spec); the
operator reads a parent before writing its status (`get`, then a merge `patch` of the status
subresource), writes children with server-side apply (`patch`, or `create` where an API answers
404), and posts Events (`create`, core `v1`: kopf's). kopf lists and watches
CustomResourceDefinitions to follow the kinds; namespaces only when it watches named ones
(`--namespace`, where the ClusterRole installed for `--all-namespaces` does not grant them:
kopf then assumes the named ones exist). It runs standalone (one replica): no peering
objects. It never deletes or replaces a child: owner references make the garbage collector
delete, and server-side apply is a `patch`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from mlservice.engine.kube.render import Mode

MODES: Final[tuple[Mode, ...]] = ("knative", "standard")

OURS: Final = "tensorstack.dev"
KSERVE: Final = "serving.kserve.io"
KNATIVE: Final = "serving.knative.dev"


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str

    @property
    def key(self) -> str:
        return f"{self.plural}.{self.version}.{self.group or 'core'}"


PARENTS: Final = (
    Resource(OURS, "v1beta1", "mlservices"),
    Resource(OURS, "v1beta1", "simplemlservices"),
)
KSERVE_PARENTS: Final = (Resource(KSERVE, "v1beta1", "inferenceservices"),)
RUNTIMES: Final = (Resource(OURS, "v1beta1", "mlserviceruntimes"),)
KSERVE_RUNTIMES: Final = (
    Resource(KSERVE, "v1alpha1", "servingruntimes"),
    Resource(KSERVE, "v1alpha1", "clusterservingruntimes"),
)
DEPLOYMENTS: Final = Resource("apps", "v1", "deployments")
SERVICES: Final = Resource("", "v1", "services")
REVISIONS: Final = Resource(KNATIVE, "v1", "revisions")
# What the operator writes, per mode (and watches for their status).
CHILDREN: Final[Mapping[Mode, tuple[Resource, ...]]] = {
    "knative": (
        Resource(KNATIVE, "v1", "configurations"),
        Resource(KNATIVE, "v1", "routes"),
        Resource(KNATIVE, "v1", "services"),
        DEPLOYMENTS,  # a SimpleMLService is a Deployment and a Service in both modes
        SERVICES,
    ),
    "standard": (
        DEPLOYMENTS,
        SERVICES,
        Resource("autoscaling", "v2", "horizontalpodautoscalers"),
        Resource("gateway.networking.k8s.io", "v1", "httproutes"),
    ),
}
# What it only watches, per mode: Knative's revisions count a release's pods.
OBSERVED: Final[Mapping[Mode, tuple[Resource, ...]]] = {
    "knative": (REVISIONS,),
    "standard": (),
}

READ: Final = ("get", "list", "watch")
WRITE: Final = (*READ, "create", "patch")
PARENT: Final = (*READ, "patch")


@dataclass(frozen=True)
class Grant:
    """One ClusterRole rule, when it applies (`""`: always; a mode; `--kserve-kinds`) and why."""

    group: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    when: str
    why: str

    def rule(self) -> dict[str, Any]:
        return {
            "apiGroups": [self.group],
            "resources": list(self.resources),
            "verbs": list(self.verbs),
        }


def grants() -> list[Grant]:
    """Every rule the operator may need, in the ClusterRole's order."""
    found = [
        *_parents(PARENTS, when=""),
        Grant(OURS, _plurals(RUNTIMES), READ, "", "runtime selection and rollouts"),
    ]
    seen: list[tuple[Resource, str]] = []
    for resource in dict.fromkeys(r for mode in MODES for r in CHILDREN[mode]):
        modes = [m for m in MODES if resource in CHILDREN[m]]
        seen.append((resource, "" if len(modes) == len(MODES) else f"{modes[0]} mode"))
    for (group, when), resources in _grouped(seen).items():
        found.append(Grant(group, resources, WRITE, when, "write children, read their status"))
    for mode in MODES:
        for resource in OBSERVED[mode]:
            why = "read the pods each revision counts"
            found.append(Grant(resource.group, (resource.plural,), READ, f"{mode} mode", why))
    found += [
        Grant("", ("events",), ("create",), "", "Events on the parents"),
        Grant(
            "apiextensions.k8s.io",
            ("customresourcedefinitions",),
            ("list", "watch"),
            "",
            "kopf follows the kinds",
        ),
        *_parents(KSERVE_PARENTS, when="--kserve-kinds"),
        Grant(KSERVE, _plurals(KSERVE_RUNTIMES), READ, "--kserve-kinds", "runtime selection"),
    ]
    return found


def rules(*, mode: Mode, kserve_kinds: bool) -> list[dict[str, Any]]:
    """The ClusterRole's rules for an operator running `--mode mode [--kserve-kinds]`."""
    wanted = {"", f"{mode} mode", *(["--kserve-kinds"] if kserve_kinds else [])}
    return [g.rule() for g in grants() if g.when in wanted]


def permissions_table() -> str:
    """`grants()` as the Markdown table docs/operator.md shows (a test keeps them equal)."""
    rows = [
        "| API group | resources | verbs | when | why |",
        "|---|---|---|---|---|",
    ]
    for g in grants():
        group = f"`{g.group}`" if g.group else '`""` (core)'
        when = f"`{g.when}`" if g.when.startswith("--") else (g.when or "always")
        rows.append(
            f"| {group} | {', '.join(g.resources)} | {', '.join(g.verbs)} | {when} | {g.why} |"
        )
    return "\n".join(rows) + "\n"


def _parents(parents: tuple[Resource, ...], *, when: str) -> list[Grant]:
    group = parents[0].group
    plurals = _plurals(parents)
    why = "watch; read before writing status; kopf's state annotations"
    return [
        Grant(group, plurals, PARENT, when, why),
        Grant(group, tuple(f"{p}/status" for p in plurals), ("patch",), when, "write status"),
    ]


def _plurals(resources: tuple[Resource, ...]) -> tuple[str, ...]:
    return tuple(r.plural for r in resources)


def _grouped(seen: list[tuple[Resource, str]]) -> dict[tuple[str, str], tuple[str, ...]]:
    """Resources of one API group written in the same modes share a rule."""
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    for resource, when in seen:
        key = (resource.group, when)
        out[key] = (*out.get(key, ()), resource.plural)
    return out
