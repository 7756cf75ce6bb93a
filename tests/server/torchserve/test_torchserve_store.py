"""Which archives a store serves, under which names and settings (`config.properties`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlservice.errors import ModelFormatError
from mlservice.server.formats.torchserve.imports import OURS, REAL, choose
from mlservice.server.formats.torchserve.properties import parse_properties, read_config
from mlservice.server.formats.torchserve.store import is_store, wanted
from tests.server.torchserve import archives


def test_properties_as_java_reads_them() -> None:
    text = "# comment\n! also\nkey = value\nother:thing\nlong=a,\\\n   b\nempty=\nkey=last\n"
    assert parse_properties(text) == {"key": "last", "other": "thing", "long": "a,b", "empty": ""}


def test_snapshot_picks_the_default_version(tmp_path: Path) -> None:
    snapshot = {
        "models": {
            "mnist": {
                "1.0": {"marName": "old.mar"},
                "2.0": {
                    "defaultVersion": True,
                    "marName": "mnist.mar",
                    "batchSize": 4,
                    "maxBatchDelay": 20,
                    "responseTimeout": 5,
                    "minWorkers": 2,
                },
            }
        }
    }
    path = tmp_path / "config.properties"
    path.write_text(f"model_snapshot={json.dumps(snapshot)}\nload_models=all\n")
    (model,) = read_config(path).snapshot
    assert (model.name, model.mar_name, model.version) == ("mnist", "mnist.mar", "2.0")
    assert (model.batch_size, model.max_batch_delay_ms, model.response_timeout) == (4, 20, 5)
    assert model.min_workers == 2


def test_store_layouts(tmp_path: Path) -> None:
    kserve = tmp_path / "kserve"
    archives.write_mar(kserve / "model-store" / "a.mar", {})
    (kserve / "config").mkdir()
    (kserve / "config" / "config.properties").write_text(
        "model_store=/mnt/models/model-store\nload_models=alias=a.mar\n"
    )
    (item,) = wanted(kserve)
    assert (item.archive, item.name) == (kserve / "model-store" / "a.mar", "alias")
    flat = tmp_path / "flat"
    archives.write_mar(flat / "b.mar", {})
    archives.write_mar(flat / "c.mar", {})
    assert is_store(flat)
    assert [w.archive.name for w in wanted(flat)] == ["b.mar", "c.mar"]
    assert not is_store(tmp_path / "flat" / "nothing")


def test_snapshot_naming_an_absent_archive(tmp_path: Path) -> None:
    (tmp_path / "model-store").mkdir()
    snapshot = {"models": {"m": {"1.0": {"marName": "gone.mar"}}}}
    (tmp_path / "config.properties").write_text(f"model_snapshot={json.dumps(snapshot)}\n")
    with pytest.raises(ModelFormatError, match=r"has no archive 'gone\.mar'"):
        wanted(tmp_path)


@pytest.mark.parametrize(
    ("setting", "installed", "complete", "chosen"),
    [
        ("auto", True, True, REAL),
        ("auto", True, False, OURS),  # TorchServe without torchvision/captum: ours
        ("auto", False, False, OURS),
        ("compat", True, True, OURS),
        ("real", True, False, REAL),
    ],
)
def test_which_ts_handlers_import(
    setting: str, installed: bool, complete: bool, chosen: str
) -> None:
    assert choose(setting, installed=installed, complete=complete) == chosen


def test_real_ts_required_but_absent_or_a_bad_setting() -> None:
    with pytest.raises(ModelFormatError, match="TorchServe's ts package is not installed"):
        choose("real", installed=False, complete=False)
    with pytest.raises(ModelFormatError, match="'java' is not one of auto, real, compat"):
        choose("java", installed=True, complete=True)
