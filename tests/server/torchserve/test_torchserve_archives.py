"""Bad archives and missing handlers are refused before the server binds, with a message that
names the archive and the entry or file, and nothing is written outside the extraction folder."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mlservice.errors import ModelFormatError, UnsafeArchiveError
from mlservice.server.formats import BuildOptions, build_models, detect
from tests.server.torchserve import archives

GOOD = {
    "MAR-INF/MANIFEST.json": archives.manifest("m", "h.py"),
    "h.py": "def handle(data, context):\n    return data\n",
}


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Extraction goes under the system temp folder: point it here to see what is left."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def build(path: Path) -> list[str]:
    return [model.name for model in build_models(detect(path), BuildOptions("svc"))]


def leftovers(scratch: Path) -> list[str]:
    return sorted(str(p.relative_to(scratch)) for p in scratch.rglob("*") if p.is_file())


def test_a_good_archive_builds_under_its_manifest_name(tmp_path: Path, scratch: Path) -> None:
    assert build(archives.write_mar(tmp_path / "m.mar", GOOD)) == ["m"]


def test_no_manifest(tmp_path: Path, scratch: Path) -> None:
    mar = archives.write_mar(tmp_path / "m.mar", {"h.py": GOOD["h.py"]})
    with pytest.raises(ModelFormatError, match=r"m\.mar has no MAR-INF/MANIFEST\.json"):
        build(mar)


def test_manifest_naming_a_missing_file(tmp_path: Path, scratch: Path) -> None:
    manifest = archives.manifest("m", "h.py", serializedFile="weights.pt")
    mar = archives.write_mar(tmp_path / "m.mar", {**GOOD, "MAR-INF/MANIFEST.json": manifest})
    with pytest.raises(ModelFormatError, match=r"serializedFile 'weights\.pt', which is not in"):
        build(mar)


def test_missing_handler_names_the_file(tmp_path: Path, scratch: Path) -> None:
    manifest = archives.manifest("m", "my_handler.py")
    mar = archives.write_mar(tmp_path / "m.mar", {"MAR-INF/MANIFEST.json": manifest})
    with pytest.raises(ModelFormatError, match=r"handler file my_handler\.py .* is not in the"):
        build(mar)


@pytest.mark.parametrize("tgz", [False, True], ids=["zip", "tgz"])
@pytest.mark.parametrize("entry", ["../escaped.py", "a/../../escaped.py", "/tmp/escaped.py"])
def test_escaping_entries(tmp_path: Path, scratch: Path, entry: str, tgz: bool) -> None:
    mar = archives.write_mar(tmp_path / "store" / "m.mar", {**GOOD, entry: "x = 1\n"}, tgz=tgz)
    with pytest.raises(UnsafeArchiveError, match=r"has entry .*escaped\.py.*nothing was extracted"):
        build(mar)
    assert not (tmp_path / "escaped.py").exists()
    assert not (tmp_path / "store" / "escaped.py").exists()
    assert leftovers(scratch) == []


@pytest.mark.parametrize("tgz", [False, True], ids=["zip", "tgz"])
def test_symlink_entries(tmp_path: Path, scratch: Path, tgz: bool) -> None:
    make = archives.tar_symlink if tgz else archives.zip_symlink
    mar = make(tmp_path / "m.mar", "link.py", "/etc/passwd", extra=GOOD)
    with pytest.raises(UnsafeArchiveError, match=r"'link\.py' that is a (sym)?link"):
        build(mar)
    assert leftovers(scratch) == []


def test_mls_serve_refuses_a_bad_archive_before_binding(tmp_path: Path) -> None:
    mar = archives.write_mar(tmp_path / "m.mar", {**GOOD, "../evil.py": "x = 1\n"})
    argv = [sys.executable, "-m", "mlservice", "serve", str(mar), "--name", "m", "--port", "0"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "has entry '../evil.py' that contains '..'; nothing was extracted" in done.stderr
    assert "on http://" not in done.stderr


def test_a_model_py_folder_is_not_a_store(tmp_path: Path) -> None:
    archives.write_mar(tmp_path / "m.mar", GOOD)
    (tmp_path / "model.py").write_text("")
    assert detect(tmp_path).format.name == "python"
    assert detect(tmp_path / "m.mar").format.name == "torchserve"


def test_a_handler_that_cannot_import_stops_the_server_with_its_error(tmp_path: Path) -> None:
    files = {**GOOD, "h.py": "import not_shipped_anywhere\n"}
    mar = archives.write_mar(tmp_path / "m.mar", files)
    argv = [sys.executable, "-m", "mlservice", "serve", str(mar), "--name", "m", "--port", "0"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert (
        "handler file h.py failed to import: ModuleNotFoundError: "
        "No module named 'not_shipped_anywhere'" in done.stderr
    )
