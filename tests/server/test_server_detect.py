"""Format detection from a model folder's files, and `mls serve` refusing what it cannot load."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlservice.errors import ModelFormatError
from mlservice.server.formats import detect
from mlservice.server.formats.base import BuildOptions
from mlservice.server.formats.detection import build_model
from tests.server.server_procs import MODELS
from tests.support.cli import mls

LIGHTGBM_HEAD = "tree\nversion=v4\nnum_class=1\n"


def make(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"model.joblib": "", "README.md": ""}, "sklearn"),
        ({"model.pkl": ""}, "sklearn"),
        ({"model.bst": ""}, "xgboost"),
        ({"model.ubj": ""}, "xgboost"),
        ({"model.json": '{"learner": {}}', "labels.json": "[1]"}, "xgboost"),
        ({"model.txt": LIGHTGBM_HEAD, "requirements.txt": "numpy\n"}, "lightgbm"),
        ({"model.onnx": ""}, "onnx"),
        ({"model.pt": ""}, "pytorch"),
        ({"model.py": "", "helpers.txt": "x"}, "python"),
        ({"model.py": "", "weights.pt": "", "model.joblib": ""}, "python"),  # model.py loads them
        ({".hidden.pkl": "", "model.onnx": ""}, "onnx"),
    ],
)
def test_format_is_detected_from_files(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    assert detect(make(tmp_path / "m", files)).format.name == expected


def test_a_single_file_path_is_accepted(tmp_path: Path) -> None:
    path = make(tmp_path, {"iris.onnx": ""}) / "iris.onnx"
    assert detect(path).path == path


def test_unknown_folder_lists_files_seen_and_formats_supported(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError) as info:
        detect(make(tmp_path / "m", {"notes.md": "", "data.csv": ""}))
    message = info.value.message
    assert "no model file of a known format" in message
    assert "files seen: data.csv, notes.md" in message
    for name in ("sklearn", "xgboost", "lightgbm", "onnx", "pytorch", "python"):
        assert name in message


def test_ambiguous_folder_is_refused_unless_format_is_forced(tmp_path: Path) -> None:
    folder = make(tmp_path / "m", {"model.joblib": "", "model.onnx": ""})
    with pytest.raises(ModelFormatError, match=r"ambiguous .*sklearn: model\.joblib.*onnx"):
        detect(folder)
    assert detect(folder, forced="onnx").path.name == "model.onnx"
    with pytest.raises(ModelFormatError, match="ambiguous"):
        detect(make(tmp_path / "two", {"a.pkl": "", "b.pkl": ""}))


def test_forced_format_must_exist(tmp_path: Path) -> None:
    folder = make(tmp_path / "m", {"model.onnx": ""})
    with pytest.raises(ModelFormatError, match="'tensorflow' is not supported"):
        detect(folder, forced="tensorflow")
    with pytest.raises(
        ModelFormatError, match=r"holds no pytorch model file; files seen: model\.onnx"
    ):
        detect(folder, forced="torch")
    torch_folder = make(tmp_path / "t", {"model.pt": "", "model.onnx": ""})
    assert detect(torch_folder, forced="torch").format.name == "pytorch"  # an alias


def test_model_py_needs_a_model_subclass() -> None:
    detected = detect(MODELS / "nomodel")
    with pytest.raises(
        ModelFormatError, match=r"exactly one mlservice.Model subclass \(found: none\)"
    ):
        build_model(detected, BuildOptions("x"))


def run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    return mls("serve", *args, "--port", "0")


def test_serve_exits_non_zero_on_an_unknown_folder(tmp_path: Path) -> None:
    done = run_serve(str(make(tmp_path / "m", {"notes.md": ""})), "--name", "m")
    assert done.returncode == 1
    assert "files seen: notes.md" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_exits_non_zero_when_load_raises() -> None:
    done = run_serve(str(MODELS / "broken"), "--name", "broken")
    assert done.returncode == 1
    assert "model broken failed to load: OSError: weights.bin is missing" in done.stderr
