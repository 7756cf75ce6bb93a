"""A TorchServe model store built in the test (archives from `archives.py`, tiny TorchScript
weights) and the real `mls serve` processes the end-to-end tests share per module."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from tests.server.torchserve import archives

SNAPSHOT = {
    "name": "startup.cfg",
    "modelCount": 6,
    "models": {
        "echo": {"1.0": {"defaultVersion": True, "marName": "echo.mar", "responseTimeout": 30}},
        "doubler": {
            "2.0": {
                "defaultVersion": True,
                "marName": "doubler.mar",
                "batchSize": 8,
                "maxBatchDelay": 300,
            },
        },
        "linear": {"1.0": {"defaultVersion": True, "marName": "linear.mar"}},
        "boom": {"1.0": {"defaultVersion": True, "marName": "boom.mar"}},
        "images": {"1.0": {"defaultVersion": True, "marName": "images.mar"}},
        "text": {"1.0": {"defaultVersion": True, "marName": "text.mar"}},
    },
}
LABELS = ["cat", "dog", "fox", "owl", "elk", "yak"]
VOCAB = {"<unk>": 0, "hello": 1, "world": 2, "hello world": 3, "bye": 4}
SENTIMENTS = ["negative", "positive"]


def text_net() -> Any:
    """An EmbeddingBag text classifier, called as `net(token_ids, offsets)`."""
    import torch

    class TextNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = torch.nn.EmbeddingBag(len(VOCAB), 4, mode="mean")
            self.fc = torch.nn.Linear(4, len(SENTIMENTS))

        def forward(self, text: Any, offsets: Any) -> Any:
            return self.fc(self.embedding(text, offsets))

    torch.manual_seed(1)
    return TextNet()


def traced(module: Any, example: Any) -> bytes:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated upstream
        scripted = torch.jit.trace(module.eval(), example)
        buffer = io.BytesIO()
        torch.jit.save(scripted, buffer)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def linear_net() -> Any:
    import torch

    net = torch.nn.Linear(3, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]]))
        net.bias.copy_(torch.tensor([0.5, -0.5]))
    return net


@pytest.fixture(scope="session")
def image_net() -> Any:
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, len(LABELS))
    )


@pytest.fixture(scope="session")
def text_classifier() -> Any:
    return text_net()


@pytest.fixture(scope="session")
def store(
    tmp_path_factory: pytest.TempPathFactory,
    linear_net: Any,
    image_net: Any,
    text_classifier: Any,
) -> Path:
    import torch

    root = tmp_path_factory.mktemp("ts-store")
    models = root / "model-store"
    (root / "config").mkdir()
    (root / "config" / "config.properties").write_text(
        "inference_address=http://0.0.0.0:8085\n"
        "management_address=http://0.0.0.0:8085\n"
        "model_store=/mnt/models/model-store\n"
        "load_models=all\n"
        f"model_snapshot={json.dumps(SNAPSHOT)}\n"
    )
    archives.write_mar(
        models / "echo.mar",
        {
            # torch-model-archiver's --extra-files; older manifests also list them as extensions
            "MAR-INF/MANIFEST.json": archives.manifest(
                "echo-archive", "echo_handler.py", extensions="helper.py"
            ),
            "echo_handler.py": archives.FUNCTION_HANDLER,
            "helper.py": archives.HELPER,
        },
    )
    archives.write_mar(
        models / "doubler.mar",
        {
            "MAR-INF/MANIFEST.json": archives.manifest("doubler", "doubler.py"),
            "doubler.py": archives.CLASS_HANDLER,
        },
        tgz=True,  # torch-model-archiver --archive-format tgz
    )
    archives.write_mar(
        models / "linear.mar",
        {
            "MAR-INF/MANIFEST.json": archives.manifest(
                "linear", "linear_handler.py", serializedFile="linear.pt"
            ),
            "linear_handler.py": archives.SUBCLASS_HANDLER,
            "linear.pt": traced(linear_net, torch.zeros(1, 3)),
        },
    )
    archives.write_mar(
        models / "boom.mar",
        {
            "MAR-INF/MANIFEST.json": archives.manifest("boom", "boom.py"),
            "boom.py": archives.RAISING_HANDLER,
        },
    )
    archives.write_mar(
        models / "images.mar",
        {
            "MAR-INF/MANIFEST.json": archives.manifest(
                "images", "image_classifier", serializedFile="images.pt", modelVersion="1.0"
            ),
            "images.pt": traced(image_net, torch.zeros(1, 3, 224, 224)),
            "index_to_name.json": json.dumps({str(i): name for i, name in enumerate(LABELS)}),
        },
    )
    vocab = io.BytesIO()
    torch.save(VOCAB, vocab)
    example = (torch.tensor([1, 2]), torch.tensor([0]))
    archives.write_mar(
        models / "text.mar",
        {
            "MAR-INF/MANIFEST.json": archives.manifest(
                "text", "text_classifier", serializedFile="text.pt"
            ),
            "text.pt": traced(text_classifier, example),
            "source_vocab.pt": vocab.getvalue(),
            "index_to_name.json": json.dumps(dict(enumerate(SENTIMENTS))),
        },
    )
    return root
