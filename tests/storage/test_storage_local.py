"""`pvc://` volumes and local paths: used in place, never copied, never escaped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mlservice.errors import AlreadyExists, InvalidStorageSource, StorageError, StorageNotFound
from mlservice.home import Home
from mlservice.storage import VolumeInfo, create_volume, fetch_model, list_volumes


@pytest.fixture
def volume(home: Home) -> Path:
    path = home.volume("models")
    (path / "sklearn").mkdir(parents=True)
    (path / "sklearn" / "model.joblib").write_bytes(b"weights")
    return path


def test_pvc_directory_is_used_in_place(home: Home, volume: Path) -> None:
    lines: list[str] = []
    path = fetch_model("pvc://models/sklearn", home=home, log=lines.append)
    assert path == volume / "sklearn"
    assert not home.model_cache.exists()
    assert lines == ["fetching pvc://models/sklearn", f"using {volume / 'sklearn'} in place"]


def test_pvc_file_and_whole_volume_are_used_in_place(home: Home, volume: Path) -> None:
    assert fetch_model("pvc://models/sklearn/model.joblib", home=home) == (
        volume / "sklearn" / "model.joblib"
    )
    assert fetch_model("pvc://models", home=home) == volume
    assert fetch_model("pvc://models/", home=home) == volume


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("pvc://models/../other", "has a path that contains '..'"),
        ("pvc://models/sklearn/../../other", "has a path that contains '..'"),
        ("pvc://models//etc/passwd", "has a path that is absolute"),
        (
            "pvc://models/out/passwd",
            "has a path that leads outside volume models through a symlink",
        ),
        ("pvc://models/out", "has a path that leads outside volume models through a symlink"),
        ("pvc://models/passwd", "has a path that leads outside volume models through a symlink"),
    ],
)
def test_pvc_path_escaping_the_volume_is_refused(
    home: Home, volume: Path, tmp_path: Path, uri: str, reason: str
) -> None:
    outside = tmp_path / "other"
    outside.mkdir()
    (outside / "passwd").write_text("root")
    (home.volumes / "other").symlink_to(outside)
    (volume / "out").symlink_to(outside)
    (volume / "passwd").symlink_to(outside / "passwd")  # F4: the file itself links out
    with pytest.raises(InvalidStorageSource) as caught:
        fetch_model(uri, home=home)
    assert caught.value.message.startswith(f"Model URI {uri} {reason}")


def test_pvc_symlink_inside_the_volume_is_followed(home: Home, volume: Path) -> None:
    (volume / "latest").symlink_to("sklearn")
    assert fetch_model("pvc://models/latest", home=home) == volume / "latest"
    (volume / "sklearn" / "current.joblib").symlink_to("model.joblib")
    (volume / "sklearn" / "shared").symlink_to("../shared")
    (volume / "shared").mkdir()
    assert fetch_model("pvc://models/sklearn", home=home) == volume / "sklearn"
    assert fetch_model("pvc://models/latest/current.joblib", home=home) == (
        volume / "latest" / "current.joblib"
    )


@pytest.mark.parametrize(
    ("link", "target"),
    [
        ("model.joblib", "secret.bin"),  # a file linking out
        ("deep/er/model.joblib", "secret.bin"),  # deeper down the folder
        ("weights", "outside"),  # a folder linking out
        ("hop.joblib", "hop"),  # a chain: to a link elsewhere in the volume, which links out
    ],
)
def test_f4_a_model_folder_holding_a_symlink_out_of_the_volume_is_refused(
    home: Home, volume: Path, tmp_path: Path, link: str, target: str
) -> None:
    """F4: a model *file* that links out of its volume was served when the URI named its
    folder; every link in the folder is now resolved, and the error names the file."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.bin").write_bytes(b"not yours")
    (volume / "hop").symlink_to(outside / "secret.bin")
    targets = {"secret.bin": outside / "secret.bin", "outside": outside, "hop": volume / "hop"}
    model = volume / "sklearn"
    (model / "model.joblib").unlink()
    (model / link).parent.mkdir(parents=True, exist_ok=True)
    (model / link).symlink_to(targets[target])
    with pytest.raises(InvalidStorageSource) as caught:
        fetch_model("pvc://models/sklearn/", home=home)
    assert caught.value.message == (
        f"Model URI pvc://models/sklearn/ holds sklearn/{link}, which links outside volume "
        "models; a model must stay inside its volume."
    )
    assert caught.value.reason == "InvalidStorageSource"
    assert isinstance(caught.value, StorageError)  # reaches status as ModelDownloadFailed


def test_missing_volume_and_missing_path_say_what_is_missing(home: Home, volume: Path) -> None:
    with pytest.raises(StorageNotFound, match=r"`mls volume create nope`"):
        fetch_model("pvc://nope/model", home=home)
    with pytest.raises(StorageNotFound, match=r"^Model URI pvc://models/absent names .*absent"):
        fetch_model("pvc://models/absent", home=home)


def test_bad_volume_name_is_refused(home: Home) -> None:
    with pytest.raises(InvalidStorageSource, match=r"names volume 'Models_1', which must be"):
        fetch_model("pvc://Models_1/x", home=home)


def test_pvc_archive_is_extracted_to_the_cache_leaving_the_volume_alone(
    home: Home, volume: Path, tar_gz: Callable[[Path, dict[str, bytes]], Path]
) -> None:
    tar_gz(volume / "model.tar.gz", {"model.pt": b"pt"})
    before = sorted(volume.rglob("*"))
    path = fetch_model("pvc://models/model.tar.gz", home=home)
    assert path.is_relative_to(home.model_cache)
    assert (path / "model.pt").read_bytes() == b"pt"
    assert sorted(volume.rglob("*")) == before
    assert fetch_model("pvc://models/model.tar.gz", home=home) == path


def test_file_uri_and_plain_paths_are_used_in_place(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    assert fetch_model(f"file://{model}", home=home) == model
    assert fetch_model(str(model), home=home) == model
    monkeypatch.chdir(tmp_path)
    assert fetch_model("model", home=home) == model  # absolute: replicas have their own cwd


def test_missing_local_path_is_not_found(home: Home, tmp_path: Path) -> None:
    with pytest.raises(StorageNotFound, match="does not exist"):
        fetch_model(f"file://{tmp_path}/absent", home=home)


def test_unsupported_scheme_lists_the_supported_ones(home: Home) -> None:
    with pytest.raises(InvalidStorageSource) as caught:
        fetch_model("gs://bucket/model", home=home)
    assert caught.value.message == (
        "Model URI gs://bucket/model has unsupported scheme gs://; "
        "use pvc://, s3://, http://, https://, file:// or a local path."
    )


def test_progress_and_errors_go_to_an_open_log_file(home: Home, tmp_path: Path) -> None:
    log_path = tmp_path / "storage-initializer.log"
    with log_path.open("w") as log, pytest.raises(StorageNotFound):
        fetch_model("pvc://absent/model", home=home, log=log)
    assert log_path.read_text().splitlines() == [
        "fetching pvc://absent/model",
        "error: Volume absent of pvc://absent/model does not exist; "
        "create it with `mls volume create absent`.",
    ]


def test_create_volume_is_what_a_pvc_maps_to(home: Home) -> None:
    path = create_volume(home, "data", exist_ok=True)
    (path / "a.bin").write_bytes(b"abc")
    assert create_volume(home, "data", exist_ok=True) == path  # applying a PVC twice is fine
    with pytest.raises(AlreadyExists, match=r"^Volume data already exists at "):
        create_volume(home, "data")
    assert list_volumes(home) == [VolumeInfo(name="data", path=path, files=1, size=3)]
    assert fetch_model("pvc://data/a.bin", home=home) == path / "a.bin"
