"""Building TorchServe archives in tests: a manifest plus files, as a zip `.mar` (what
torch-model-archiver writes) or a tar.gz one, and the handler sources the tests serve."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

Files = dict[str, str | bytes]


def manifest(name: str, handler: str, **model: Any) -> str:
    document = {
        "createdOn": "06/12/2026 15:00:00",
        "runtime": "python",
        "model": {"modelName": name, "handler": handler, **model},
        "archiverVersion": "0.12.0",
    }
    return json.dumps(document)


def write_mar(path: Path, files: Files, *, tgz: bool = False) -> Path:
    """`files` maps archive names to contents; MAR-INF/MANIFEST.json is one of them (or not)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if tgz:
        with tarfile.open(path, "w:gz") as tar:
            for name, content in files.items():
                data = content.encode() if isinstance(content, str) else content
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return path
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return path


def zip_symlink(path: Path, name: str, target: str, *, extra: Files) -> Path:
    """A zip whose entry `name` is a symlink to `target` (Unix mode bits in external_attr)."""
    with zipfile.ZipFile(path, "w") as zf:
        for entry, content in extra.items():
            zf.writestr(entry, content)
        info = zipfile.ZipInfo(name)
        info.external_attr = 0o120777 << 16
        zf.writestr(info, target)
    return path


def tar_symlink(path: Path, name: str, target: str, *, extra: Files) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for entry, content in extra.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(entry)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo(name)
        link.type = tarfile.SYMTYPE
        link.linkname = target
        tar.addfile(link)
    return path


# A function handler: `handle(None, context)` at load, then a list of answers per batch. It
# imports `helper`, a sibling module shipped in the archive.
FUNCTION_HANDLER = """
import helper

loaded = []


def handle(data, context):
    if data is None:
        loaded.append(context.system_properties["model_dir"])
        return None
    # both of TorchServe's metric APIs
    context.metrics.add_counter("EchoRows", len(data))
    metric = context.metrics.add_metric_to_cache("EchoSize", unit="count", dimension_names=["m"])
    metric.add_or_update(len(data), dimension_values=["echo"])
    answers = []
    for i, row in enumerate(data):
        value = row.get("data") or row.get("body")
        if isinstance(value, (bytes, bytearray)):
            value = "bytes:" + value.decode()
        answers.append({
            "echo": helper.shout(value) if isinstance(value, str) else value,
            "loaded": len(loaded),
            "batch": len(data),
            "header": context.get_request_header(i, "x-test"),
            "model": context.manifest["model"]["modelName"],
        })
    if data and (data[0].get("data") or data[0].get("body")) == "teapot":
        context.set_response_status(418, "I'm a teapot")
    return answers
"""

HELPER = """
def shout(text):
    return text.upper()
"""

# A class handler that does not subclass BaseHandler; it counts the rows of each batch.
CLASS_HANDLER = """
import time


class Doubler:
    def __init__(self):
        self.initialized = False

    def initialize(self, context):
        self.batch_size = context.system_properties["batch_size"]
        self.initialized = True

    def preprocess(self, data):
        return [row.get("data") if row.get("data") is not None else row.get("body") for row in data]

    def inference(self, values):
        time.sleep(0.05)  # long enough for concurrent requests to gather into one batch
        return [v * 2 for v in values]

    def postprocess(self, values):
        return [{"double": v, "rows": len(values), "batch_size": self.batch_size} for v in values]

    def handle(self, data, context):
        if data and self.preprocess(data)[0] == "wrong-count":
            return []
        return self.postprocess(self.inference(self.preprocess(data)))
"""

# A BaseHandler subclass: TorchScript weights loaded by BaseHandler.initialize, its own
# preprocess, BaseHandler's inference and postprocess. It reports which BaseHandler it got.
SUBCLASS_HANDLER = """
import torch
from ts.torch_handler.base_handler import BaseHandler


class Linear(BaseHandler):
    def preprocess(self, data):
        rows = [row.get("data") if row.get("data") is not None else row.get("body") for row in data]
        return torch.as_tensor(rows, dtype=torch.float32)

    def postprocess(self, data):
        if self.context.get_request_header(0, "x-numeric"):
            return data.tolist()
        return [{"y": row, "base": BaseHandler.__module__} for row in data.tolist()]
"""

RAISING_HANDLER = """
def handle(data, context):
    if data is None:
        return None
    raise ValueError("cannot score row " + repr(data[0]))
"""
