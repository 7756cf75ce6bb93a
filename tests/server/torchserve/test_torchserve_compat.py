"""Handlers run against our own `ts` package when TorchServe's is absent (hidden here with
`MLS_TORCHSERVE_TS=compat`, which puts ours in front), and a single `.mar` also answers to the
name the platform serves it under."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.server_procs import Launcher, Served
from tests.server.torchserve import archives

pytestmark = pytest.mark.e2e

COMPAT = "mlservice.server.formats.torchserve.ts_compat"

# What handlers import from ts besides BaseHandler, and a built-in subclassed by a user.
PROBE_HANDLER = """
import ts
from ts.context import Context
from ts.torch_handler.image_classifier import ImageClassifier
from ts.utils.util import list_classes_from_module, load_label_mapping, map_class_to_label


def handle(data, context):
    if data is None:
        return None
    return [
        {
            "ts": ts.__name__,
            "context": isinstance(context, Context),
            "topk": ImageClassifier.topk,
            "labels": map_class_to_label([[0.25, 0.75]], {"0": "no", "1": "yes"}),
            "model_dir_mapping": load_label_mapping(
                context.system_properties["model_dir"] + "/index_to_name.json"
            ),
        }
        for _ in data
    ]
"""


def probe_mar(path: Path) -> Path:
    return archives.write_mar(
        path,
        {
            "MAR-INF/MANIFEST.json": archives.manifest("probe", "probe.py", modelVersion="3"),
            "probe.py": PROBE_HANDLER,
            "index_to_name.json": '{"0": ["n01", "tench"]}',
        },
    )


@pytest.fixture(scope="module")
def compat(
    launcher: Launcher, store: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("compat-store")
    shutil.copy(store / "model-store" / "linear.mar", folder / "linear.mar")
    probe_mar(folder / "probe.mar")
    server = launcher.start(folder, name="svc", env={"MLS_TORCHSERVE_TS": "compat"})
    yield server
    server.stop()


def test_base_handler_subclass_gets_ours(compat: Served) -> None:
    answer = httpx.post(
        f"{compat.url}/v1/models/linear:predict", json={"instances": [{"data": [1.0, 1.0, 1.0]}]}
    )
    assert answer.status_code == 200, answer.text
    (prediction,) = answer.json()["predictions"]
    assert prediction["base"] == f"{COMPAT}.torch_handler.base_handler"
    assert prediction["y"] == pytest.approx([6.5, -1.0])


def test_handlers_import_the_rest_of_ts_from_ours(compat: Served) -> None:
    answer = httpx.post(f"{compat.url}/predictions/probe/3", json={})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "ts": COMPAT,
        "context": True,
        "topk": 5,
        "labels": [{"no": 0.25, "yes": 0.75}],
        "model_dir_mapping": {"0": "tench"},
    }
    assert httpx.post(f"{compat.url}/predictions/probe/4", json={}).status_code == 404
    # Several archives and no snapshot: each under its manifest's name, --name unused.
    assert httpx.get(f"{compat.url}/v1/models").json() == {"models": ["linear", "probe"]}


def test_a_single_mar_also_answers_to_the_served_name(
    launcher: Launcher, tmp_path_factory: pytest.TempPathFactory
) -> None:
    mar = probe_mar(tmp_path_factory.mktemp("single") / "probe.mar")
    server = launcher.start(mar, name="digits-svc", env={"MLS_TORCHSERVE_TS": "compat"})
    try:
        for name in ("probe", "digits-svc"):
            answer = httpx.post(f"{server.url}/v1/models/{name}:predict", json={"instances": [{}]})
            assert answer.status_code == 200, answer.text
        assert httpx.get(f"{server.url}/v1/models").json() == {"models": ["probe"]}
    finally:
        server.stop()
