"""A KServe runtime's container, as the local engine runs it.

KServe's runtime YAMLs give an image and flags (`--model_name={{.Name}}`,
`--model_dir=/mnt/models`, `--http_port=8080`) and let the image's entrypoint run. Locally no
image runs, so `local_container`:

1. renders KServe's placeholders as its `ReplacePlaceholders` does: every string of the
   container is a Go template over the InferenceService's metadata, with Go's field names
   (`{{.Name}}`, `{{.Namespace}}`, `{{.Labels.modelClass}}`, `{{.Annotations.x}}`); a field
   ObjectMeta does not have is an error, as in Go. A missing label renders empty (Go prints
   "<no value>");
2. gives a container without `command` the local program of its image (`kserve/sklearnserver`
   runs `mls serve --format sklearn`, which takes KServe's server flags); an image with no
   local equivalent is RuntimeUnavailable, naming it. A predictor that only overrides its
   runtime's image (the reference's `pytorch.image: .../torchserve-cuda-11.3-kfs`, a CUDA
   build of the runtime's TorchServe-KFS) is served by the runtime image's local program
   (`serve_as`, see `image_stand_in`): locally no image runs anyway, and the flags are the
   runtime's; the caller warns that the image was not run;
3. points the server's ports at the engine's: `--http_port=8080` becomes `--http_port=$(PORT)`
   and `--grpc_port=...` `$(GRPC_PORT)`, so every replica gets its own loopback ports.

The model path `/mnt/models` stays as written: the engine maps a mount path to the model's
local folder wherever it appears (`ModelSource.mount_path`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mlservice.errors import LaunchError, RuntimeUnavailable, TemplateError
from mlservice.runtime.template import render

MODEL_MOUNT_PATH = "/mnt/models"
"""Where KServe's storage-initializer puts the model (`DefaultModelLocalMountPath`)."""

MLS_SERVE = ("mls", "serve")

LOCAL_COMMANDS: Mapping[str, tuple[str, ...]] = {
    "kserve/sklearnserver": (*MLS_SERVE, "--format", "sklearn"),
    "kserve/xgbserver": (*MLS_SERVE, "--format", "xgboost"),
    "kserve/lgbserver": (*MLS_SERVE, "--format", "lightgbm"),
    # KServe's TorchServe images, given our server's flags: a model store is served natively.
    # KServe's own runtime passes `torchserve --start ...` instead, which runs as written.
    "pytorch/torchserve-kfs": (*MLS_SERVE, "--format", "torchserve"),
    "kserve/torchserve": (*MLS_SERVE, "--format", "torchserve"),
    "mlservice/mls": MLS_SERVE,
}
"""Image repository -> the local program that serves as it does (flags as the image's)."""

_PROGRAM_FIRST_IMAGES = frozenset({"pytorch/torchserve-kfs", "kserve/torchserve"})
"""Images whose KServe runtime names the program in `args` (TorchServe's: `torchserve`)."""

UNAVAILABLE_IMAGES: Mapping[str, str] = {
    "kserve/pmmlserver": "PMML models (a JVM-backed server)",
    "kserve/paddleserver": "PaddlePaddle models",
}
"""KServe server images with no local equivalent, and what they serve."""

# Flags naming the HTTP and gRPC ports of KServe's ModelServer (and Triton's spelling).
HTTP_PORT_FLAGS = ("--http_port", "--http-port")
GRPC_PORT_FLAGS = ("--grpc_port", "--grpc-port")

# Go's metav1.ObjectMeta fields: a template may name these and no others.
_META_FIELDS = {
    "name": "Name",
    "generateName": "GenerateName",
    "namespace": "Namespace",
    "selfLink": "SelfLink",
    "uid": "UID",
    "resourceVersion": "ResourceVersion",
    "generation": "Generation",
    "creationTimestamp": "CreationTimestamp",
    "deletionTimestamp": "DeletionTimestamp",
    "deletionGracePeriodSeconds": "DeletionGracePeriodSeconds",
    "labels": "Labels",
    "annotations": "Annotations",
    "ownerReferences": "OwnerReferences",
    "finalizers": "Finalizers",
    "managedFields": "ManagedFields",
}


def local_container(
    container: Mapping[str, Any],
    *,
    metadata: Mapping[str, Any],
    where: str,
    serve_as: str | None = None,
) -> dict[str, Any]:
    """`container` (Kubernetes JSON, from a ServingRuntime merged with the predictor's) as the
    local engine runs it, for the InferenceService with `metadata`. `where` names the runtime
    and container in errors, e.g. "ClusterServingRuntime kserve-sklearnserver". `serve_as`
    is the image whose local program runs instead of the container's own (`image_stand_in`);
    the container keeps its image, as written."""
    out = render_placeholders(container, metadata, where=where)
    args = out.get("args") or []
    image = serve_as or out.get("image")
    program = () if out.get("command") else local_command(image, args=args, where=where)
    if program:
        out["command"] = list(program)
    out["args"] = engine_ports(args, ensure_http=bool(program))
    return out


def render_placeholders(
    container: Mapping[str, Any], metadata: Mapping[str, Any], *, where: str
) -> dict[str, Any]:
    """Every string in `container` rendered over the InferenceService's `metadata`."""
    data = _ObjectMeta({go: metadata[key] for key, go in _META_FIELDS.items() if key in metadata})
    name = container.get("name", "")

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return render(value, data)
        if isinstance(value, Mapping):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        return value

    try:
        rendered: dict[str, Any] = walk(container)
    except TemplateError as err:
        raise TemplateError(
            f"{where}: failed to replace placeholders in container {name}: {err.message}"
        ) from None
    return rendered


def local_command(image: object, *, args: Sequence[str], where: str) -> tuple[str, ...]:
    """The program to run for a container of `image` that gives no `command`."""
    repository = image_repository(image) if isinstance(image, str) else ""
    if repository in _PROGRAM_FIRST_IMAGES and args and not args[0].startswith("-"):
        return ()
    if repository in LOCAL_COMMANDS:
        return LOCAL_COMMANDS[repository]
    if repository in UNAVAILABLE_IMAGES:
        raise RuntimeUnavailable(
            f"{where}: image {image} serves {UNAVAILABLE_IMAGES[repository]}, which this "
            "machine cannot run; use a runtime with a command, or another model format."
        )
    if args and not args[0].startswith("-"):
        return ()  # the first argument names the program, as the engine reads it
    known = ", ".join(sorted(LOCAL_COMMANDS))
    raise LaunchError(
        f"{where}: image {image or '(none)'} has no local equivalent (known: {known}); give "
        "the container a command."
    )


def image_stand_in(container: Mapping[str, Any], *, runtime_image: object) -> str | None:
    """`runtime_image` when `container` (a runtime's merged with its predictor's fields) only
    swaps that image for one with no local program: the predictor gives no command and its
    flags are the runtime's, so locally the runtime's program serves it (a CUDA build of
    TorchServe-KFS is still TorchServe-KFS). None when the container runs as it is."""
    image = container.get("image")
    if not isinstance(image, str) or not isinstance(runtime_image, str) or image == runtime_image:
        return None
    args = container.get("args") or []
    if container.get("command") or (args and not str(args[0]).startswith("-")):
        return None  # it names its own program
    repository = image_repository(image)
    if repository in LOCAL_COMMANDS or repository in UNAVAILABLE_IMAGES:
        return None  # an image we know: it says itself what it serves
    return runtime_image if image_repository(runtime_image) in LOCAL_COMMANDS else None


def image_repository(image: str) -> str:
    """`docker.io/kserve/sklearnserver:v0.15.0` -> `kserve/sklearnserver`: the registry, tag
    and digest dropped. KServe's kustomize names (`kserve-sklearnserver:replace`) map too."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]  # a registry host
    if parts[:1] == ["library"]:
        parts = parts[1:]
    if len(parts) == 1 and parts[0].startswith("kserve-"):
        return "kserve/" + parts[0].removeprefix("kserve-")
    return "/".join(parts)


def engine_ports(args: Sequence[str], *, ensure_http: bool = False) -> list[str]:
    """`args` with literal HTTP/gRPC port flags pointed at `$(PORT)`/`$(GRPC_PORT)`; with
    `ensure_http`, an HTTP port flag is added when there is none (a server that defaults to
    8080 would otherwise hold a fixed port)."""
    out: list[str] = []
    pending: str | None = None
    seen_http = False
    for arg in args:
        if pending is not None:
            out.append(pending if arg.isdigit() else arg)
            pending = None
            continue
        flag, eq, value = arg.partition("=")
        variable = _port_variable(flag)
        seen_http = seen_http or flag in HTTP_PORT_FLAGS
        if variable and eq and value.isdigit():
            out.append(f"{flag}={variable}")
        else:
            out.append(arg)
            if variable and not eq:
                pending = variable
    if ensure_http and not seen_http:
        out.append(f"{HTTP_PORT_FLAGS[0]}=$(PORT)")
    return out


def _port_variable(flag: str) -> str | None:
    if flag in HTTP_PORT_FLAGS:
        return "$(PORT)"
    if flag in GRPC_PORT_FLAGS:
        return "$(GRPC_PORT)"
    return None


class _ObjectMeta(dict[str, Any]):
    """The metadata as Go's template sees an `ObjectMeta` struct: naming a field it does not
    have is an error, where a map would give nothing."""

    def get(self, key: str, default: Any = None) -> Any:
        if key not in _META_FIELDS.values():
            raise TemplateError(f"can't evaluate field {key} in type v1.ObjectMeta")
        return super().get(key, default)
