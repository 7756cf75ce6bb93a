"""`mls storage-init URI DEST`, a pod's storage-initializer, run as a pod runs it: a claim
mounted in a folder, S3 (moto, IAM auth on) through KServe's variables, an HTTP server."""

from __future__ import annotations

import io
import tarfile
import threading
from collections.abc import Iterator
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from mlservice.errors import InvalidStorageSource
from mlservice.storage.s3cfg import s3_config_from_env
from tests.storage.file_server import CountingHandler, FileServer, write_tar_gz
from tests.support.cli import mls
from tests.support.moto import Moto, running_moto

MARKER = ".mls-storage-init"


def visible(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` by relative path, our marker left out."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MARKER
    }


def everything(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.fixture
def claim(tmp_path: Path) -> Path:
    """A claim as mounted at /mnt/pvc: a model folder, an archive, a link out of the claim."""
    root = tmp_path / "pvc"
    (root / "models" / "iris" / "sub").mkdir(parents=True)
    (root / "models" / "iris" / "model.joblib").write_bytes(b"weights")
    (root / "models" / "iris" / "sub" / "vocab.txt").write_bytes(b"a b c")
    write_tar_gz(root / "models" / "packed.tar.gz", {"model.joblib": b"packed"})
    (tmp_path / "secret.txt").write_text("not the model's")
    (root / "leaky").mkdir()
    (root / "leaky" / "model.joblib").symlink_to(tmp_path / "secret.txt")
    return root


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    with running_moto(tmp_path_factory.mktemp("moto"), record=False) as server:
        client = server.client()
        client.put_object(Bucket="models", Key="iris/model.joblib", Body=b"s3 weights")
        client.put_object(Bucket="models", Key="iris/config/settings.json", Body=b"{}")
        yield server


@pytest.fixture
def www(tmp_path: Path) -> Iterator[FileServer]:
    root = tmp_path / "www"
    root.mkdir()
    state = FileServer(root=root, url="")
    handler = type("Handler", (CountingHandler,), {"server_state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def s3_env(server: Moto, *, secret: str | None = None) -> dict[str, str]:
    """What KServe's credential builder puts in the container from an S3 Secret."""
    return {
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": secret if secret is not None else server.secret_key,
        "S3_ENDPOINT": server.endpoint.removeprefix("http://"),
        "S3_USE_HTTPS": "0",
        "AWS_REGION": "us-east-1",
    }


def test_a_claim_folder_is_copied_and_a_second_run_does_nothing(
    claim: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "models"
    args = ("storage-init", "pvc://my-claim/models/iris", str(dest), "--claim-root", str(claim))
    first = mls(*args)
    assert first.returncode == 0, first.stderr
    assert visible(dest) == {"model.joblib": b"weights", "sub/vocab.txt": b"a b c"}
    assert not any(p.is_symlink() for p in dest.rglob("*"))  # the copy stands alone
    again = mls(*args)
    assert again.returncode == 0, again.stderr
    assert "already holds pvc://my-claim/models/iris" in again.stdout


def test_an_archive_in_a_claim_is_extracted(claim: Path, tmp_path: Path) -> None:
    dest = tmp_path / "models"
    uri = "pvc://my-claim/models/packed.tar.gz"
    done = mls("storage-init", uri, str(dest), env={"MLS_CLAIM_ROOT": str(claim)})
    assert done.returncode == 0, done.stderr
    assert visible(dest) == {"model.joblib": b"packed"}


def test_a_link_out_of_the_claim_is_refused_and_nothing_is_written(
    claim: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "models"
    refused = mls("storage-init", "pvc://c/leaky", str(dest), "--claim-root", str(claim))
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        "error: Model URI pvc://c/leaky holds leaky/model.joblib, which links outside volume c; "
        "a model must stay inside its volume."
    )
    assert everything(dest) == set()


def test_a_missing_claim_mount_says_where_it_was_looked_for(tmp_path: Path) -> None:
    missing = tmp_path / "no-mount"
    failed = mls("storage-init", "pvc://c/m", str(tmp_path / "d"), "--claim-root", str(missing))
    assert failed.returncode == 3
    assert f"Claim c of pvc://c/m is not mounted at {missing}" in failed.stderr


def test_s3_with_kserves_variables(moto: Moto, tmp_path: Path) -> None:
    dest = tmp_path / "models"
    done = mls("storage-init", "s3://models/iris", str(dest), env=s3_env(moto))
    assert done.returncode == 0, done.stderr
    assert visible(dest) == {"model.joblib": b"s3 weights", "config/settings.json": b"{}"}


def test_s3_with_a_wrong_key_exits_4_and_never_shows_it(moto: Moto, tmp_path: Path) -> None:
    dest = tmp_path / "models"
    wrong = "wrong-secret-key-0123456789"
    denied = mls("storage-init", "s3://models/iris", str(dest), env=s3_env(moto, secret=wrong))
    assert denied.returncode == 4
    assert denied.stderr.strip().splitlines()[-1].startswith("error: Access to s3://models/iris")
    assert wrong not in denied.stdout + denied.stderr
    assert moto.access_key not in denied.stdout + denied.stderr
    assert everything(dest) == set()


def test_s3_from_an_s3cfg_file(moto: Moto, tmp_path: Path) -> None:
    """The S3 Secret mounted as a volume: its `.s3cfg` named by --s3cfg."""
    s3cfg = tmp_path / ".s3cfg"
    s3cfg.write_text(moto.s3cfg())
    dest = tmp_path / "models"
    done = mls("storage-init", "s3://models/iris/model.joblib", str(dest), "--s3cfg", str(s3cfg))
    assert done.returncode == 0, done.stderr
    assert visible(dest) == {"model.joblib": b"s3 weights"}


def test_http_file_and_archive(www: FileServer, tmp_path: Path) -> None:
    (www.root / "model.onnx").write_bytes(b"onnx bytes")
    write_tar_gz(www.root / "model.tar.gz", {"m/model.joblib": b"x", "m/README": b"r"})
    plain, packed = tmp_path / "plain", tmp_path / "packed"
    assert mls("storage-init", f"{www.url}/model.onnx", str(plain)).returncode == 0
    assert mls("storage-init", f"{www.url}/model.tar.gz", str(packed)).returncode == 0
    assert visible(plain) == {"model.onnx": b"onnx bytes"}
    assert visible(packed) == {"m/model.joblib": b"x", "m/README": b"r"}


def test_a_hostile_archive_is_refused_and_nothing_lands_outside_dest(
    www: FileServer, tmp_path: Path
) -> None:
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w:gz") as tar:
        for name in ("model.joblib", "../../escaped.txt"):
            info = tarfile.TarInfo(name)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    (www.root / "evil.tar.gz").write_bytes(payload.getvalue())
    work = tmp_path / "work"
    dest = work / "mnt" / "models"
    refused = mls("storage-init", f"{www.url}/evil.tar.gz", str(dest))
    assert refused.returncode == 1
    assert "has entry '../../escaped.txt' that contains '..'; nothing was extracted" in (
        refused.stderr
    )
    assert everything(work) == {"mnt", "mnt/models"}
    assert not (tmp_path / "escaped.txt").exists()


def test_http_404_exits_3(www: FileServer, tmp_path: Path) -> None:
    missing = mls("storage-init", f"{www.url}/nothing.joblib", str(tmp_path / "d"))
    assert missing.returncode == 3
    assert "does not exist (HTTP 404)" in missing.stderr


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("gs://bucket/model", "unsupported scheme gs://; use pvc://, s3://, http:// or https://"),
        ("/models/iris", "is a local path; use pvc://, s3://, http:// or https://"),
        ("pvc://Bad_Claim/x", "names volume 'Bad_Claim'"),
    ],
)
def test_uris_a_pod_cannot_fetch_exit_2(uri: str, says: str, tmp_path: Path) -> None:
    refused = mls("storage-init", uri, str(tmp_path / "d"))
    assert refused.returncode == 2
    assert says in refused.stderr


def test_a_folder_holding_other_files_is_not_overwritten(claim: Path, tmp_path: Path) -> None:
    dest = tmp_path / "models"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    refused = mls("storage-init", "pvc://c/models/iris", str(dest), "--claim-root", str(claim))
    assert refused.returncode == 1
    assert "is not empty (it holds keep.txt)" in refused.stderr
    assert everything(dest) == {"keep.txt"}


def test_kserves_variables_map_onto_an_s3_config() -> None:
    env = {
        "AWS_ENDPOINT_URL": "https://minio.storage.svc:9000",
        "S3_USE_HTTPS": "0",  # the URL's scheme wins
        "S3_VERIFY_SSL": "0",
        "AWS_DEFAULT_REGION": "eu-west-3",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "shh",
        "S3_USER_VIRTUAL_BUCKET": "true",
    }
    config = s3_config_from_env(env)
    assert config is not None
    assert config.endpoint_url == "https://minio.storage.svc:9000"
    assert (config.verify_ssl, config.region, config.addressing_style) == (
        False,
        "eu-west-3",
        "virtual",
    )
    assert config.access_key.reveal() == "AKIAEXAMPLE"
    assert "shh" not in repr(config)


def test_without_an_endpoint_boto3_reads_the_environment_itself() -> None:
    assert s3_config_from_env({"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}) is None


def test_anonymous_and_plain_http_endpoints() -> None:
    env = {"S3_ENDPOINT": "minio:9000", "S3_USE_HTTPS": "0", "awsAnonymousCredential": "true"}
    env |= {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    config = s3_config_from_env(env)
    assert config is not None
    assert (config.endpoint_url, config.addressing_style) == ("http://minio:9000", "path")
    assert not config.access_key
    assert not config.secret_key


def test_a_variable_that_is_no_boolean_is_named() -> None:
    with pytest.raises(InvalidStorageSource, match="The variable S3_USE_HTTPS is not a boolean"):
        s3_config_from_env({"S3_ENDPOINT": "minio:9000", "S3_USE_HTTPS": "maybe"})
