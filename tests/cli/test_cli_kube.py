"""`mls kube render|crds|install` as a user runs them: YAML on stdout, errors on stderr."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
import typer.testing
import yaml

from mlservice.cli import operator as operator_cli
from mlservice.cli.app import build_app
from mlservice.controller.offline import render
from mlservice.engine.kube import RenderOptions
from tests.engine.kube.kube_helpers import EXAMPLES, documents
from tests.support.cli import mls
from tests.support.paths import REPO


def test_render_prints_what_the_renderer_returns() -> None:
    done = mls("kube", "render", "-f", str(EXAMPLES / "mlservice" / "canary.yaml"))
    assert done.returncode == 0, done.stderr
    printed = list(yaml.safe_load_all(done.stdout))
    assert printed == render(documents(EXAMPLES / "mlservice" / "canary.yaml"))
    assert "&id" not in done.stdout  # no YAML anchors
    assert "kubernetes.podspec-init-containers" in done.stderr  # Knative's feature flags


def test_render_takes_a_directory_the_mode_the_image_and_a_namespace(tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    folder.mkdir()
    source = (EXAMPLES / "simplemlservice" / "sample.yaml").read_text()
    (folder / "a.yaml").write_text(source)
    done = mls(
        "kube",
        "render",
        "-f",
        str(folder),
        "--mode",
        "standard",
        "--image",
        "r.test/m:2",
        "-n",
        "team",
    )
    assert done.returncode == 0, done.stderr
    objects = list(yaml.safe_load_all(done.stdout))
    assert {o["metadata"]["namespace"] for o in objects} == {"team"}
    assert "r.test/m:2" in done.stdout


def test_render_writes_one_file_per_object_with_output_dir(tmp_path: Path) -> None:
    out = tmp_path / "out"
    example = str(EXAMPLES / "mlservice" / "transformer.yaml")
    done = mls("kube", "render", "-f", example, "--output-dir", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "001-configuration-digits-transformer-predict-version1.yaml",
        "002-route-digits-transformer-predictor.yaml",
        "003-service-digits-transformer.yaml",
    ]


def test_render_errors_name_the_field_and_exit_1() -> None:
    example = str(EXAMPLES / "mlservice" / "scale-to-zero.yaml")
    done = mls("kube", "render", "-f", example, "--mode", "standard")
    assert done.returncode == 1
    assert done.stdout == ""
    assert "spec.releases[0].predictor.minReplicas is 0" in done.stderr
    bad = mls("kube", "render", "-f", example, "--mode", "raw")
    assert bad.returncode == 2
    assert "choose knative or standard" in bad.stderr


def test_crds_and_install_print_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    crds = mls("kube", "crds")
    assert crds.returncode == 0, crds.stderr
    names = [c["metadata"]["name"] for c in yaml.safe_load_all(crds.stdout)]
    assert names == [
        "mlservices.tensorstack.dev",
        "simplemlservices.tensorstack.dev",
        "mlserviceruntimes.tensorstack.dev",
    ]
    with_kserve = mls("kube", "crds", "--kserve-kinds")
    assert "inferenceservices.serving.kserve.io" in with_kserve.stdout
    install = mls(
        "kube",
        "install",
        "--mode",
        "standard",
        "--kserve-kinds",
        "--image",
        "r.test/mls:3",
        "--domain",
        "ml.test",
    )
    assert install.returncode == 0, install.stderr
    objects = list(yaml.safe_load_all(install.stdout))
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "r.test/mls:3"
    args = container["args"]
    assert args == [
        "operator",
        "--all-namespaces",
        "--mode",
        "standard",
        "--image",
        "r.test/mls:3",
        "--domain",
        "ml.test",
        "--kserve-kinds",
    ]
    assert any(o["kind"] == "ClusterServingRuntime" for o in objects)
    # `mls operator` renders with the image and domain install gives it
    options = _operator_options(args, monkeypatch)
    assert options == RenderOptions(mode="standard", image="r.test/mls:3", domain="ml.test")
    unknown = typer.testing.CliRunner().invoke(build_app("operator"), [*args, "--imagee", "x"])
    assert unknown.exit_code == 2


def _operator_options(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> RenderOptions:
    """The render options `mls ARGV` (an `operator` command line) runs the operator with."""
    seen: list[RenderOptions] = []
    real = operator_cli.wiring
    monkeypatch.setattr(
        operator_cli, "wiring", lambda options: seen.append(options) or real(options)
    )
    monkeypatch.setattr(operator_cli, "run", lambda **_: None)  # no cluster to reconcile
    done = typer.testing.CliRunner().invoke(build_app("operator"), argv)
    assert done.exit_code == 0, done.output
    [options] = seen
    return options


def test_the_render_commands_in_the_docs_run(tmp_path: Path) -> None:
    text = (REPO / "docs" / "kubernetes.md").read_text()
    lines = [
        line.split()
        for line in text.splitlines()
        if line.startswith("mls kube render -f examples/") and "|" not in line
    ]
    assert len(lines) == 3
    out = tmp_path / "rendered"
    for argv in lines:
        if "--output-dir" in argv:
            argv[argv.index("--output-dir") + 1] = str(out)
        done = mls(*argv[1:], cwd=REPO)
        assert done.returncode == 0, (argv, done.stderr)
    assert len(list(out.iterdir())) > 10
