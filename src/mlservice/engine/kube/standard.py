"""Standard mode, KServe's "raw" deployment: per component an `apps/v1` Deployment and a `v1`
Service, an `autoscaling/v2` HorizontalPodAutoscaler where the replica count may move, and
Gateway API `HTTPRoute`s: the service's host and the predictors' split by weighted
`backendRefs`, one host per release. Nothing scales to zero here: `minReplicas: 0` is
refused, naming the field.
"""

from __future__ import annotations

from typing import Any, Final

from mlservice.engine.kube.meta import object_meta
from mlservice.engine.kube.names import release_object, route_name, transformer_object
from mlservice.engine.kube.pod import PodTemplate, pod_template
from mlservice.engine.kube.workload import Component, Workload
from mlservice.errors import NotRenderable
from mlservice.naming import (
    COMPONENT_LABEL,
    KIND_LABEL,
    RELEASE_LABEL,
    SERVICE_LABEL,
    Hosts,
    predictor_label,
)

GATEWAY_API: Final = "gateway.networking.k8s.io/v1"
SERVICE_PORT: Final = 80
DEFAULT_MAX_REPLICAS: Final = 10
"""An HPA needs a ceiling; "no upper bound" (absent or 0) becomes this, or minReplicas."""
DEFAULT_CPU_UTILIZATION: Final = 80
DEFAULT_TARGET: Final = 100
METRIC: Final = "autoscaling.knative.dev/metric"
TARGET: Final = "autoscaling.knative.dev/target"


def standard_objects(
    workload: Workload, *, image: str, domain: str, gateway: tuple[str, str]
) -> list[dict[str, Any]]:
    _refuse_scale_to_zero(workload)
    objects: list[dict[str, Any]] = []
    names, backends = [], []
    for split in workload.releases:
        name = release_object(workload, split)
        objects += _component(workload, split.component, name, image=image)
        names.append(name)
        backends.append({"name": name, "port": SERVICE_PORT, "weight": split.percent})
    if workload.kind == "SimpleMLService":
        return objects
    hosts = Hosts(domain)
    ns, service = workload.namespace, workload.name
    split_hosts = [hosts.predictor(service, ns)]
    if workload.transformer is not None:
        chain = transformer_object(workload)
        objects += _component(workload, workload.transformer, chain, image=image)
        only = [{"name": chain, "port": SERVICE_PORT}]
        objects.append(_route(workload, service, [hosts.service(service, ns)], only, gateway))
        predictor = _route(workload, predictor_label(service), split_hosts, backends, gateway)
        objects.append(_mirrored(predictor, workload))
    else:
        both = [hosts.service(service, ns), *split_hosts]
        route = _route(workload, route_name(workload), both, backends, gateway)
        objects.append(_mirrored(route, workload))
    if workload.kind == "MLService":
        for split, name in zip(workload.releases, names, strict=True):
            host = [hosts.release(service, ns, split.release)]
            single = [{"name": name, "port": SERVICE_PORT}]
            objects.append(_route(workload, name, host, single, gateway))
    return objects


def _mirrored(route: dict[str, Any], workload: Workload) -> dict[str, Any]:
    """The split's route with `spec.shadow` as a `RequestMirror` filter to the shadow
    release's Service (the hosts the gateway copies: the service's and the predictor's, and
    with a transformer only the transformer's calls to the predictor)."""
    mirror = workload.shadow
    if mirror is None or mirror.percent == 0:
        return route
    split = next((s for s in workload.releases if s.release == mirror.release), None)
    if split is None:
        return route
    backend = {"name": release_object(workload, split), "port": SERVICE_PORT}
    copy = {"backendRef": backend, "percent": mirror.percent}
    for rule in route["spec"]["rules"]:
        rule["filters"] = [{"type": "RequestMirror", "requestMirror": copy}]
    return route


def _refuse_scale_to_zero(workload: Workload) -> None:
    components = [s.component for s in workload.releases]
    if workload.transformer is not None:
        components.append(workload.transformer)
    for component in components:
        if workload.replicas is None and component.min_replicas == 0:
            raise NotRenderable(
                f"{workload.kind} {workload.namespace}/{workload.name}: "
                f"{component.field_path}.minReplicas is 0 (scale to zero), which standard "
                "mode cannot run (an HPA keeps at least one replica); set it to 1 or more, "
                "or render with --mode knative."
            )


def _component(
    workload: Workload, component: Component, name: str, *, image: str
) -> list[dict[str, Any]]:
    pod = pod_template(
        component,
        workload,
        image=image,
        knative=False,
        mount_claims=workload.kind == "SimpleMLService",
    )
    _probe(pod)
    selector = _selector(pod)
    fixed = workload.replicas
    replicas = fixed if fixed is not None else component.min_replicas
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(workload, name),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "template": pod.as_json(),
        },
    }
    objects = [deployment, _service(workload, name, selector, pod.port)]
    if fixed is None and component.max_replicas != component.min_replicas:
        objects.append(_hpa(workload, component, name, pod))
    return objects


def _probe(pod: PodTemplate) -> None:
    """Without a readiness probe a Deployment counts a pod ready at once; Knative probes the
    served port by default, so do the same."""
    containers = pod.spec["containers"]
    serving = next((c for c in containers if c.get("ports")), containers[0])
    serving.setdefault("readinessProbe", {"tcpSocket": {"port": pod.port}})


def _selector(pod: PodTemplate) -> dict[str, str]:
    keys = (KIND_LABEL, SERVICE_LABEL, COMPONENT_LABEL, RELEASE_LABEL)
    return {key: pod.labels[key] for key in keys if key in pod.labels}


def _service(workload: Workload, name: str, selector: dict[str, str], port: int) -> dict[str, Any]:
    if workload.service_ports:
        ports = [
            {**({"name": n} if n else {}), "port": p, "targetPort": p, "protocol": "TCP"}
            for n, p in workload.service_ports
        ]
    else:
        ports = [{"name": "http", "port": SERVICE_PORT, "targetPort": port, "protocol": "TCP"}]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(workload, name),
        "spec": {"selector": selector, "ports": ports},
    }


def _hpa(workload: Workload, component: Component, name: str, pod: PodTemplate) -> dict[str, Any]:
    low = component.min_replicas
    high = component.max_replicas or max(low, DEFAULT_MAX_REPLICAS)
    metric = pod.annotations.get(METRIC, "cpu")
    target = pod.annotations.get(TARGET)
    if metric in ("cpu", "memory"):
        utilization = int(float(target)) if target else DEFAULT_CPU_UTILIZATION
        spec: dict[str, Any] = {
            "type": "Resource",
            "resource": {
                "name": metric,
                "target": {"type": "Utilization", "averageUtilization": utilization},
            },
        }
    else:
        # Concurrency and rps are per-pod custom metrics (a metrics adapter serves them).
        value = target or str(DEFAULT_TARGET)
        spec = {
            "type": "Pods",
            "pods": {
                "metric": {"name": f"mlservice_{metric}"},
                "target": {"type": "AverageValue", "averageValue": value},
            },
        }
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": object_meta(workload, name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": low,
            "maxReplicas": high,
            "metrics": [spec],
        },
    }


def _route(
    workload: Workload,
    name: str,
    hostnames: list[str],
    backends: list[dict[str, Any]],
    gateway: tuple[str, str],
) -> dict[str, Any]:
    gateway_name, gateway_namespace = gateway
    return {
        "apiVersion": GATEWAY_API,
        "kind": "HTTPRoute",
        "metadata": object_meta(workload, name),
        "spec": {
            "parentRefs": [{"name": gateway_name, "namespace": gateway_namespace}],
            "hostnames": hostnames,
            "rules": [{"backendRefs": backends}],
        },
    }
