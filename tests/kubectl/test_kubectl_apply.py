"""The stock kubectl against a real `mls up --api-only`, from `$MLS_HOME/kubeconfig` alone:
discovery (`api-resources`, `get all`), and `apply -f` with its default strict validation,
which reads `/openapi/v3` first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mlservice.cli.background import UpProcess
from tests.kubectl.driver import editor, kubectl
from tests.support.kubectl import needs_kubectl
from tests.support.up import API_ONLY_ARGS, namespace_name, up_process

CANARY = Path(__file__).resolve().parents[2] / "examples" / "mlservice" / "canary.yaml"

pytestmark = needs_kubectl()


@pytest.fixture(scope="module")
def mls_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    with up_process(tmp_path_factory.mktemp("home"), args=API_ONLY_ARGS) as up:
        yield up


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    return namespace_name(request)


def test_api_resources_lists_our_kinds_with_short_names(mls_up: UpProcess, tmp_path: Path) -> None:
    done = kubectl(mls_up.home.kubeconfig, "api-resources", "--no-headers", "-v=6", cache=tmp_path)
    assert done.returncode == 0, done.stderr
    # Aggregated discovery: `/api` and `/apis` answer everything, no per-group request follows.
    assert "GET https://" in done.stderr
    assert "/apis/tensorstack.dev/v1beta1" not in done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()}
    assert rows["mlservices"][1:] == ["mlsvc", "tensorstack.dev/v1beta1", "true", "MLService"]
    assert rows["simplemlservices"][1] == "smlsvc"
    assert rows["inferenceservices"][1:3] == ["isvc", "serving.kserve.io/v1beta1"]
    assert rows["serviceaccounts"][1] == "sa"
    assert rows["clusterservingruntimes"][-2:] == ["false", "ClusterServingRuntime"]


def test_apply_validates_strictly_and_creates(
    mls_up: UpProcess, namespace: str, tmp_path: Path
) -> None:
    config = mls_up.home.kubeconfig
    done = kubectl(config, "apply", "-f", str(CANARY), "-n", namespace, cache=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "mlservice.tensorstack.dev/multi-releases-canary created" in done.stdout
    with mls_up.client() as client:
        names = [o["metadata"]["name"] for o in client.list("mlservice", namespace=namespace)]
    assert names == ["multi-releases-canary"]
    listed = kubectl(config, "get", "all", "-n", namespace, cache=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "multi-releases-canary" in listed.stdout
    # A second apply, with a change, is a merge patch (kubectl knows no strategic merge for it).
    manifest = yaml.safe_load(CANARY.read_text())
    manifest["spec"]["canaryTrafficPercent"] = 30
    again = kubectl(
        config, "apply", "-f", "-", "-n", namespace, cache=tmp_path, stdin=yaml.safe_dump(manifest)
    )
    assert again.returncode == 0, again.stderr
    assert "multi-releases-canary configured" in again.stdout
    with mls_up.client() as client:
        patched = client.get("mlservice", "multi-releases-canary", namespace=namespace)
    assert patched["spec"]["canaryTrafficPercent"] == 30


def test_apply_names_an_unknown_field(mls_up: UpProcess, namespace: str, tmp_path: Path) -> None:
    manifest = yaml.safe_load(CANARY.read_text())
    manifest["metadata"]["name"] = "typo"
    manifest["spec"]["canaryTraficPercent"] = 20
    done = kubectl(
        mls_up.home.kubeconfig,
        "apply",
        "-f",
        "-",
        "-n",
        namespace,
        cache=tmp_path,
        stdin=yaml.safe_dump(manifest),
    )
    assert done.returncode != 0
    assert 'spec.canaryTraficPercent: unknown field "canaryTraficPercent"' in done.stderr
    with mls_up.client() as client:
        assert client.list("mlservice", namespace=namespace) == []


def test_apply_with_validate_warn_drops_an_unknown_field_with_a_warning(
    mls_up: UpProcess, namespace: str, tmp_path: Path
) -> None:
    manifest = yaml.safe_load(CANARY.read_text())
    manifest["spec"]["canaryTraficPercent"] = 20
    done = kubectl(
        mls_up.home.kubeconfig,
        "apply",
        "--validate=warn",  # ?fieldValidation=Warn: the server drops the field and says so
        "-f",
        "-",
        "-n",
        namespace,
        cache=tmp_path,
        stdin=yaml.safe_dump(manifest),
    )
    assert done.returncode == 0, done.stderr
    assert 'Warning: unknown field "spec.canaryTraficPercent"' in done.stderr
    with mls_up.client() as client:
        stored = client.get("mlservice", "multi-releases-canary", namespace=namespace)
    assert "canaryTraficPercent" not in stored["spec"]


def test_a_wrong_token_is_refused(mls_up: UpProcess, tmp_path: Path) -> None:
    document = yaml.safe_load(mls_up.home.kubeconfig.read_text())
    for user in document["users"]:
        user["user"]["token"] = "wrong"
    edited = tmp_path / "kubeconfig"
    edited.write_text(yaml.safe_dump(document))
    done = kubectl(edited, "api-resources", cache=tmp_path / "cache")
    assert done.returncode != 0
    assert "provide credentials" in done.stderr


def test_edit_submits_and_names_an_unknown_field(
    mls_up: UpProcess, namespace: str, tmp_path: Path
) -> None:
    config = mls_up.home.kubeconfig
    created = kubectl(config, "apply", "-f", str(CANARY), "-n", namespace, cache=tmp_path)
    assert created.returncode == 0, created.stderr
    target = ("mlsvc", "multi-releases-canary", "-n", namespace)
    edited = kubectl(
        config,
        "edit",
        *target,
        cache=tmp_path,
        env=editor(tmp_path, "s/canaryTrafficPercent: 20/canaryTrafficPercent: 40/"),
    )
    assert edited.returncode == 0, edited.stderr
    assert "multi-releases-canary edited" in edited.stdout
    with mls_up.client() as client:
        got = client.get("mlservice", "multi-releases-canary", namespace=namespace)
    assert got["spec"]["canaryTrafficPercent"] == 40
    typo = kubectl(
        config,
        "edit",
        *target,
        cache=tmp_path,
        env=editor(tmp_path, "s/canaryTrafficPercent: 40/canaryTraficPercent: 50/"),
    )
    assert typo.returncode != 0
    # kubectl reopens the file headed by the Status causes, each naming its field.
    shown = (tmp_path / "editor.log").read_text()
    assert '# * spec.canaryTraficPercent: unknown field "canaryTraficPercent"' in shown
