"""An InferenceService component's PodSpec, as KServe's predictor reconciler builds it.

A model predictor runs its ServingRuntime's server container (`kserve-container`, else the
first) with the model's container fields merged onto it the way KServe merges them: the
model's `args` after the runtime's, `env` by name (the model's wins), `resources` key by key
(the model's wins), any other field the model sets replacing the runtime's. The serving
container comes first in the pod, then the runtime's other containers, then the predictor's
own sidecars. Placeholders, the image's local program and the ports are `local_container`'s.
A predictor that only overrides its runtime's image is served locally by the runtime image's
program (`image_stand_in`; the reconciler warns), while a cluster runs its image as written.
A custom predictor or a transformer runs its containers as given, `kserve-container` first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from mlservice.engine import ModelSource, StorageKey
from mlservice.errors import InvalidInput
from mlservice.resources.inferenceservice import KServeModelSpec
from mlservice.resources.kserve_component import Batcher, ComponentSpec
from mlservice.resources.pod import PodSpec
from mlservice.runtime.kserve_container import (
    MLS_SERVE,
    engine_ports,
    image_stand_in,
    local_container,
)
from mlservice.runtime.kserve_select import RuntimeCandidate
from mlservice.storage.uri import SCHEMES

SERVER_CONTAINER: Final = "kserve-container"
DEFAULT_SERVICE_ACCOUNT: Final = "default"
KNATIVE_TARGET: Final = "autoscaling.knative.dev/target"
KNATIVE_METRIC: Final = "autoscaling.knative.dev/metric"

# The model's fields that say where the model is and what serves it, not how its container runs.
_MODEL_ONLY = {
    "storage_uri",
    "runtime_version",
    "protocol_version",
    "storage",
    "model_format",
    "runtime",
}


@dataclass(frozen=True)
class SelectedRuntime:
    """A runtime selection chose: what it is (for errors and status) and its manifest."""

    candidate: RuntimeCandidate
    manifest: Mapping[str, Any]

    @property
    def where(self) -> str:
        return f"{self.candidate.kind} {self.candidate.name}"


def pod_fields(component: ComponentSpec) -> dict[str, Any]:
    """The PodSpec part of a component (its extension fields and shortcuts left out)."""
    dumped = component.model_dump(mode="json", by_alias=True, exclude_none=True)
    allowed = {f.alias or name for name, f in PodSpec.model_fields.items()} | PodSpec.passthrough
    return {key: value for key, value in dumped.items() if key in allowed}


def model_pod(
    component: ComponentSpec,
    model: KServeModelSpec,
    runtime: SelectedRuntime,
    *,
    metadata: Mapping[str, Any],
    local: bool = False,
) -> dict[str, Any]:
    """The predictor's PodSpec for `model` served by `runtime` (Kubernetes JSON). `local`: for
    the local engine, which serves an image the predictor swapped in as its runtime's image
    (`stand_in`); on a cluster that image runs its own entrypoint."""
    server, others = _server(runtime)
    merged = _merged(server, model)
    serve_as = image_stand_in(merged, runtime_image=server.get("image"))
    served = local_container(merged, metadata=metadata, where=runtime.where, serve_as=serve_as)
    if serve_as is not None and not local:
        served.pop("command", None)
    pod = pod_fields(component)
    own = [c for c in pod.get("containers") or [] if c.get("name") != SERVER_CONTAINER]
    pod["containers"] = [batching(served, component.batcher), *others, *own]
    volumes = [
        *((runtime.manifest.get("spec") or {}).get("volumes") or []),
        *(pod.get("volumes") or []),
    ]
    if volumes:
        pod["volumes"] = volumes
    return pod


def stand_in(model: KServeModelSpec, runtime: SelectedRuntime) -> tuple[str, str] | None:
    """(the predictor's image, the runtime's) when the predictor only overrides the image of
    `runtime`: locally the runtime's program serves it and that image does not run."""
    server, _ = _server(runtime)
    merged = _merged(server, model)
    serve_as = image_stand_in(merged, runtime_image=server.get("image"))
    return None if serve_as is None else (str(merged["image"]), serve_as)


def _server(runtime: SelectedRuntime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The runtime's serving container (`kserve-container`, else the first) and the others."""
    containers: list[dict[str, Any]] = list(
        (runtime.manifest.get("spec") or {}).get("containers") or []
    )
    if not containers:
        raise InvalidInput(f"{runtime.where} has no containers.")
    server = next((c for c in containers if c.get("name") == SERVER_CONTAINER), containers[0])
    return server, [c for c in containers if c is not server]


def _merged(server: Mapping[str, Any], model: KServeModelSpec) -> dict[str, Any]:
    fields = model.model_dump(mode="json", by_alias=True, exclude_none=True, exclude=_MODEL_ONLY)
    return merge_container(server, fields)


def model_source(
    component: ComponentSpec, model: KServeModelSpec, *, mount_path: str
) -> ModelSource | None:
    """Where the model is and which objects hold its credentials, as KServe's credential
    builder finds them: the predictor's ServiceAccount (`default` when none is named) and,
    with `storage`, an entry of the `storage-config` Secret (its bucket and `storage.path`
    make the URI when there is no storageUri)."""
    storage = None
    if model.storage is not None:
        storage = StorageKey(
            key=model.storage.key,
            path=model.storage.path or "",
            parameters=tuple(sorted((model.storage.parameters or {}).items())),
        )
    uri = model.storage_uri or ""
    if not uri and storage is None:
        return None
    account = component.service_account_name or DEFAULT_SERVICE_ACCOUNT
    return ModelSource(uri, mount_path=mount_path, service_account=account, storage=storage)


def custom_pod(component: ComponentSpec) -> dict[str, Any]:
    """A custom predictor's or a transformer's PodSpec: its containers as given, the one named
    `kserve-container` first (the one that serves)."""
    pod = pod_fields(component)
    containers = list(pod.get("containers") or [])
    containers.sort(key=lambda c: c.get("name") != SERVER_CONTAINER)
    pod["containers"] = containers
    return pod


def transformer_pod(component: ComponentSpec, *, name: str) -> dict[str, Any]:
    """A transformer's PodSpec: its first container gets the flags KServe adds when absent,
    `--model_name {name}`, `--predictor_host` (here the engine's `$(PREDICTOR_HOST)`, the
    gateway, with the predictor's host in `PREDICTOR_HOST_HEADER`) and the HTTP port."""
    pod = custom_pod(component)
    first, *rest = pod["containers"]
    args = list(first.get("args") or [])
    if not _has_flag(args, "--model_name"):
        args += ["--model_name", name]
    if not _has_flag(args, "--predictor_host"):
        args += ["--predictor_host", "$(PREDICTOR_HOST)"]
    pod["containers"] = [{**first, "args": engine_ports(args, ensure_http=True)}, *rest]
    return pod


def _has_flag(args: Sequence[str], flag: str) -> bool:
    return any(a == flag or a.startswith(f"{flag}=") for a in args)


def merge_container(runtime: Mapping[str, Any], model: Mapping[str, Any]) -> dict[str, Any]:
    """`model`'s container fields merged onto the runtime's container, as KServe does."""
    out = dict(runtime)
    for key, value in model.items():
        if key == "args":
            out["args"] = [*(runtime.get("args") or []), *value]
        elif key == "env":
            out["env"] = _merge_env(runtime.get("env") or [], value)
        elif key == "resources":
            before = runtime.get("resources") or {}
            out["resources"] = {
                part: {**(before.get(part) or {}), **(value.get(part) or {})}
                for part in dict.fromkeys([*before, *value])
            }
        elif key != "name":
            out[key] = value
    return out


def _merge_env(
    runtime: Sequence[Mapping[str, Any]], model: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    by_name = {str(e.get("name")): dict(e) for e in runtime}
    for entry in model:
        by_name[str(entry.get("name"))] = dict(entry)
    return list(by_name.values())


def batching(container: dict[str, Any], batcher: Batcher | None) -> dict[str, Any]:
    """`batcher` as the model server's own adaptive batching: KServe runs an agent sidecar for
    it; `mls serve` batches in process, so a server that is ours gets the flags instead."""
    if batcher is None or tuple(container.get("command") or ())[:2] != MLS_SERVE:
        return container
    args = list(container.get("args") or [])
    if batcher.max_batch_size is not None:
        args.append(f"--max-batch-size={batcher.max_batch_size}")
    if batcher.max_latency is not None:
        args.append(f"--max-batch-delay-ms={batcher.max_latency}")
    return {**container, "args": args}


def unsupported_scheme(uri: str) -> str | None:
    """The scheme of `uri` when this machine cannot fetch it (gs, hdfs, hf, oci, ...)."""
    if "://" not in uri:
        return None  # a local path
    scheme = uri.split("://", 1)[0].lower()
    return None if scheme in SCHEMES else scheme


def autoscaling_annotations(
    component: ComponentSpec, *, metadata_annotations: Mapping[str, str] | None
) -> dict[str, str]:
    """The KPA settings of a component: Knative's own annotations (the InferenceService's,
    then the component's) and `scaleTarget`/`scaleMetric` mapped onto them, as KServe does."""
    found = {k: v for k, v in (metadata_annotations or {}).items() if k.startswith("autoscaling.")}
    found.update(component.annotations or {})
    if component.scale_target is not None:
        found[KNATIVE_TARGET] = str(component.scale_target)
    if component.scale_metric is not None:
        found[KNATIVE_METRIC] = component.scale_metric
    return found
