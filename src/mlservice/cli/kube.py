"""`mls kube render|crds|install`: Kubernetes objects from manifests, offline (no API calls)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from mlservice.errors import MLServiceError

kube_app = typer.Typer(
    name="kube",
    help="Kubernetes objects from the same manifests: render them, the CRDs, the operator.",
    no_args_is_help=True,
)

ModeOption = Annotated[
    str, typer.Option("--mode", help="knative (Knative Serving) or standard (Deployments).")
]
ImageOption = Annotated[str | None, typer.Option("--image", help="The mlservice image.")]
DomainOption = Annotated[str | None, typer.Option("--domain", help="Ingress domain of the hosts.")]


class _Dumper(yaml.SafeDumper):
    """Plain YAML: no anchors for repeated values (kubectl reads either; people read this)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_all(objects: Sequence[dict[str, Any]]) -> str:
    return yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


@contextmanager
def _reported() -> Iterator[None]:
    try:
        yield
    except MLServiceError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


def _mode(value: str) -> Any:
    from mlservice.engine.kube import MODES

    if value not in MODES:
        raise typer.BadParameter(f"{value!r}: choose knative or standard.", param_hint="--mode")
    return value


@kube_app.command("render")
def render(
    filename: Annotated[
        list[Path], typer.Option("--filename", "-f", help="File, directory or - for stdin.")
    ],
    mode: ModeOption = "knative",
    image: ImageOption = None,
    domain: DomainOption = None,
    namespace: Annotated[
        str, typer.Option("--namespace", "-n", help="Namespace of objects that name none.")
    ] = "default",
    output_dir: Annotated[
        Path | None, typer.Option("--output-dir", help="One file per object instead of stdout.")
    ] = None,
) -> None:
    """Print the Kubernetes objects the manifests become (multi-document YAML)."""
    from mlservice.client.manifests import load
    from mlservice.controller.offline import render as render_objects
    from mlservice.engine.kube import knative_features
    from mlservice.engine.kube.render import DEFAULT_DOMAIN, DEFAULT_IMAGE

    chosen = _mode(mode)
    with _reported():
        documents = [d.body for d in load(filename)]
        objects = render_objects(
            documents,
            mode=chosen,
            image=image or DEFAULT_IMAGE,
            domain=domain or DEFAULT_DOMAIN,
            namespace=namespace,
            warn=lambda message: typer.echo(f"warning: {message}", err=True),
        )
    flags = knative_features(objects)
    if flags:
        typer.echo(
            "warning: stock Knative refuses these pods unless its config-features enable "
            f"{', '.join(flags)} (kubectl -n knative-serving edit configmap config-features).",
            err=True,
        )
    if output_dir is None:
        typer.echo(dump_all(objects), nl=False)
        return
    output_dir.mkdir(parents=True, exist_ok=True)
    for index, obj in enumerate(objects, start=1):
        name = f"{index:03d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        (output_dir / name).write_text(dump_all([obj]))


@kube_app.command("crds")
def crds(
    kserve_kinds: Annotated[
        bool, typer.Option("--kserve-kinds", help="Also KServe's kinds (not beside KServe).")
    ] = False,
) -> None:
    """Print our CustomResourceDefinitions (`| kubectl apply -f -`)."""
    from mlservice.engine.kube.crds import crds as all_crds

    typer.echo(dump_all(all_crds(kserve_kinds=kserve_kinds)), nl=False)


@kube_app.command("install")
def install(
    mode: ModeOption = "knative",
    image: ImageOption = None,
    domain: DomainOption = None,
    kserve_kinds: Annotated[
        bool,
        typer.Option("--kserve-kinds", help="Run KServe's kinds and its built-in runtimes too."),
    ] = False,
) -> None:
    """Print the operator's namespace, account, RBAC, Deployment and the built-in runtimes."""
    from mlservice.engine.kube.install import install_objects
    from mlservice.engine.kube.render import DEFAULT_DOMAIN, DEFAULT_IMAGE
    from mlservice.runtime import builtin, kserve

    runtimes = [*builtin.manifests(), *(kserve.manifests() if kserve_kinds else [])]
    objects = install_objects(
        image=image or DEFAULT_IMAGE,
        domain=domain or DEFAULT_DOMAIN,
        mode=_mode(mode),
        kserve_kinds=kserve_kinds,
        runtimes=runtimes,
    )
    typer.echo(dump_all(objects), nl=False)


def register(app: typer.Typer) -> None:
    """Add `mls kube` to `app`."""
    app.add_typer(kube_app, name="kube")
