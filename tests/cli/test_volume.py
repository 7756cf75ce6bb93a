"""`mls volume create|ls|cp` as a user runs them: a real `mls` process with MLS_HOME set."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mlservice.home import Home
from mlservice.storage import fetch_model
from tests.support import cli


def mls(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`mls volume ARGS...` with MLS_HOME naming `home`."""
    return cli.mls("volume", *args, home=home, env=env)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "mls-home"


@pytest.fixture
def volume(home: Path) -> Path:
    """A volume made directly (`create` has its own tests), saving an `mls` start per test."""
    path = home / "volumes" / "models"
    path.mkdir(parents=True)
    return path


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    src = tmp_path / "sklearn-model"
    (src / "meta").mkdir(parents=True)
    (src / "model.joblib").write_bytes(b"weights")
    (src / "meta" / "info.json").write_text("{}")
    return src


def test_create_then_ls_shows_the_volume(home: Path) -> None:
    empty = mls(home, "ls")
    assert empty.returncode == 0
    assert "No volumes under" in empty.stdout

    created = mls(home, "create", "models")
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == f"volume/models created at {home / 'volumes' / 'models'}"
    assert (home / "volumes" / "models").is_dir()

    listed = mls(home, "ls")
    header, row = listed.stdout.splitlines()
    assert header.split() == ["NAME", "FILES", "SIZE", "PATH"]
    assert row.split() == ["models", "0", "0", "B", str(home / "volumes" / "models")]


def test_create_refuses_duplicates_and_bad_names(home: Path) -> None:
    assert mls(home, "create", "models").returncode == 0
    again = mls(home, "create", "models")
    assert again.returncode == 1
    assert again.stderr.strip() == (
        f"error: Volume models already exists at {home / 'volumes' / 'models'}."
    )
    bad = mls(home, "create", "My_Models")
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: Volume name 'My_Models' is invalid")
    assert sorted(p.name for p in (home / "volumes").iterdir()) == ["models"]


def test_cp_directory_then_fetch_uses_it_in_place(
    home: Path, volume: Path, model_dir: Path
) -> None:
    copied = mls(home, "cp", str(model_dir), "pvc://models/sklearn")
    assert copied.returncode == 0, copied.stderr
    target = home / "volumes" / "models" / "sklearn"
    assert copied.stdout.strip() == f"Copied 2 files, 9 B, to pvc://models/sklearn ({target})"
    assert (target / "model.joblib").read_bytes() == b"weights"
    assert (target / "meta" / "info.json").read_text() == "{}"
    assert fetch_model("pvc://models/sklearn", home=Home(home)) == target
    row = mls(home, "ls").stdout.splitlines()[1].split()
    assert row[:2] == ["models", "2"]


def test_cp_file_and_directory_into_a_folder(home: Path, volume: Path, model_dir: Path) -> None:
    assert mls(home, "cp", str(model_dir / "model.joblib"), "pvc://models/").returncode == 0
    assert mls(home, "cp", str(model_dir), "pvc://models/all/").returncode == 0
    assert (
        mls(home, "cp", str(model_dir / "model.joblib"), "pvc://models/renamed.bin").returncode == 0
    )
    assert (volume / "model.joblib").read_bytes() == b"weights"
    assert (volume / "all" / "sklearn-model" / "meta" / "info.json").exists()
    assert (volume / "renamed.bin").read_bytes() == b"weights"
    assert not [p for p in volume.rglob(".*")]  # no partial files left behind


@pytest.mark.parametrize(
    ("dest", "message"),
    [
        ("pvc://models/../escaped", "has a path that contains '..'"),
        ("pvc://models//tmp/escaped", "has a path that is absolute"),
        ("pvc://models/out/escaped", "leads outside volume models through a symlink"),
        ("pvc://absent/x", "Volume absent of pvc://absent/x does not exist"),
        ("s3://bucket/x", "Destination s3://bucket/x must be pvc://VOLUME/PATH."),
    ],
)
def test_cp_refuses_destinations_outside_a_volume(
    home: Path, volume: Path, model_dir: Path, tmp_path: Path, dest: str, message: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (home / "volumes" / "models" / "out").symlink_to(outside)
    result = mls(home, "cp", str(model_dir), dest)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in (home / "volumes").iterdir()) == ["models"]
    assert [p.name for p in (home / "volumes" / "models").iterdir()] == ["out"]


def test_cp_of_a_missing_source_names_it(home: Path, volume: Path, tmp_path: Path) -> None:
    result = mls(home, "cp", str(tmp_path / "nothing"), "pvc://models/")
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: Source {tmp_path / 'nothing'} does not exist."


def test_large_copy_draws_a_progress_bar(home: Path, volume: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 2**20))
    result = mls(home, "cp", str(big), "pvc://models/", env={"FORCE_COLOR": "1"})
    assert result.returncode == 0, result.stderr
    assert "copying" in result.stderr
    assert "9.0/9.0 MiB" in result.stderr
    assert (home / "volumes" / "models" / "big.bin").read_bytes() == big.read_bytes()
    tiny = tmp_path / "tiny.bin"
    tiny.write_bytes(b"x")
    assert mls(home, "cp", str(tiny), "pvc://models/", env={"FORCE_COLOR": "1"}).stderr == ""


def test_home_option_wins_over_the_environment(home: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-home"
    result = mls(home, "create", "models", "--home", str(other))
    assert result.returncode == 0, result.stderr
    assert (other / "volumes" / "models").is_dir()
    assert not (home / "volumes").exists()
