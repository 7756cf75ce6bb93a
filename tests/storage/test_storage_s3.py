"""`s3://` against a real moto_server on loopback, credentials from an `.s3cfg` text."""

from __future__ import annotations

import io
import logging
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from mlservice.errors import (
    StorageAccessDenied,
    StorageNotFound,
    StorageUnreachable,
    UnsafeArchiveError,
)
from mlservice.home import Home
from mlservice.storage import fetch_model, parse_s3cfg
from tests.support.moto import Moto
from tests.support.ports import free_port

pytestmark = pytest.mark.e2e


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_prefix_downloads_every_object_below_it_keeping_paths(moto: Moto, home: Home) -> None:
    s3 = moto.client()
    s3.put_object(Bucket="models", Key="prefix/sk/model.joblib", Body=b"weights")
    s3.put_object(Bucket="models", Key="prefix/sk/meta/info.json", Body=b"{}")
    s3.put_object(Bucket="models", Key="prefix/sk-other/model.joblib", Body=b"not this one")
    lines: list[str] = []
    path = fetch_model(
        "s3://models/prefix/sk", home=home, secret_s3cfg=moto.s3cfg(), log=lines.append
    )
    assert files_under(path) == {"model.joblib": b"weights", "meta/info.json": b"{}"}
    assert path.is_relative_to(home.model_cache)
    assert any("downloaded s3://models/prefix/sk/model.joblib" in line for line in lines)


def test_single_object_downloads_that_file(moto: Moto, home: Home) -> None:
    moto.client().put_object(Bucket="models", Key="single/model.onnx", Body=b"onnx bytes")
    path = fetch_model("s3://models/single/model.onnx", home=home, secret_s3cfg=moto.s3cfg())
    assert files_under(path) == {"model.onnx": b"onnx bytes"}


def test_single_archive_is_extracted(
    moto: Moto, home: Home, tar_gz: Callable[[Path, dict[str, bytes]], Path], tmp_path: Path
) -> None:
    archive = tar_gz(tmp_path / "m.tar.gz", {"model/weights.pt": b"pt", "model/cfg.json": b"{}"})
    moto.client().upload_file(str(archive), "models", "archives/model.tar.gz")
    path = fetch_model("s3://models/archives/model.tar.gz", home=home, secret_s3cfg=moto.s3cfg())
    assert files_under(path) == {"model/weights.pt": b"pt", "model/cfg.json": b"{}"}


def test_second_fetch_hits_the_cache_until_the_object_changes(moto: Moto, home: Home) -> None:
    s3 = moto.client()
    s3.put_object(Bucket="models", Key="cached/model.bin", Body=b"v1")
    uri, cfg = "s3://models/cached/model.bin", moto.s3cfg()
    first = fetch_model(uri, home=home, secret_s3cfg=cfg)
    lines: list[str] = []
    second = fetch_model(uri, home=home, secret_s3cfg=cfg, log=lines.append)
    assert second == first
    assert moto.gets("/models/cached/model.bin") == 1
    assert any(line.startswith("cache hit for s3://models/cached/model.bin") for line in lines)

    s3.put_object(Bucket="models", Key="cached/model.bin", Body=b"v2")
    third = fetch_model(uri, home=home, secret_s3cfg=cfg)
    assert third != first
    assert (third / "model.bin").read_bytes() == b"v2"
    assert (first / "model.bin").read_bytes() == b"v1"  # a running replica keeps its copy
    assert moto.gets("/models/cached/model.bin") == 2


def test_secret_never_reaches_logs_output_or_errors(
    moto: Moto,
    home: Home,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A good fetch and a wrong-key fetch, with every logger at DEBUG: neither key shows up in
    the storage-initializer log, Python logging, stdout/stderr, the error or the cache."""
    caplog.set_level(logging.DEBUG)
    moto.client().put_object(Bucket="models", Key="secret/model.bin", Body=b"m")
    wrong = "wrong" + moto.secret_key[5:]
    log_file = tmp_path / "storage-initializer.log"
    with log_file.open("w") as log:
        fetch_model("s3://models/secret/model.bin", home=home, secret_s3cfg=moto.s3cfg(), log=log)
        with pytest.raises(StorageAccessDenied) as caught:
            fetch_model(
                "s3://models/secret/",
                home=home,
                secret_s3cfg=moto.s3cfg(secret_key=wrong),
                log=log,
            )
    message = caught.value.message
    assert message == (
        "Access to s3://models/secret/ was denied (SignatureDoesNotMatch); "
        "check access_key and secret_key in the .s3cfg."
    )
    captured = capsys.readouterr()
    cache_text = "".join(
        p.read_text(errors="replace") + str(p) for p in home.root.rglob("*") if p.is_file()
    )
    places = {
        "log": log_file.read_text(),
        "logging": caplog.text,
        "stdout": captured.out,
        "stderr": captured.err,
        "error": f"{caught.value!s} {caught.value!r}",
        "config repr": repr(parse_s3cfg(moto.s3cfg())),
        "cache": cache_text,
    }
    assert "error: Access to s3://models/secret/ was denied" in places["log"]
    for secret in (moto.secret_key, moto.access_key, wrong):
        leaks = [where for where, text in places.items() if secret in text]
        assert leaks == [], f"a credential leaked into {leaks}"


def test_missing_bucket_and_missing_key_name_the_uri(moto: Moto, home: Home) -> None:
    with pytest.raises(StorageNotFound, match=r"^Bucket nope of s3://nope/model does not exist\.$"):
        fetch_model("s3://nope/model", home=home, secret_s3cfg=moto.s3cfg())
    with pytest.raises(StorageNotFound, match=r"s3://models/absent/"):
        fetch_model("s3://models/absent/", home=home, secret_s3cfg=moto.s3cfg())


def test_unreachable_endpoint_is_reported_as_such(home: Home) -> None:
    cfg = f"host_base = 127.0.0.1:{free_port()}\nuse_https = False\naccess_key = a\nsecret_key = b"
    with pytest.raises(
        StorageUnreachable, match=r"S3 endpoint http://127\.0\.0\.1:\d+ for s3://m/k"
    ):
        fetch_model("s3://m/k", home=home, secret_s3cfg=cfg)


def test_archive_with_dotdot_entry_is_refused_and_nothing_written_outside(
    moto: Moto, home: Home
) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in ("model/ok.bin", "../../../escaped.bin"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"xx"))
    moto.client().put_object(Bucket="models", Key="evil/model.tgz", Body=buffer.getvalue())
    lines: list[str] = []
    with pytest.raises(UnsafeArchiveError) as caught:
        fetch_model(
            "s3://models/evil/model.tgz", home=home, secret_s3cfg=moto.s3cfg(), log=lines.append
        )
    assert caught.value.message == (
        "Archive s3://models/evil/model.tgz has entry '../../../escaped.bin' that contains '..'; "
        "nothing was extracted."
    )
    assert lines[-1] == f"error: {caught.value.message}"
    left = sorted(p.relative_to(home.root).as_posix() for p in home.root.rglob("*"))
    assert [p for p in left if not p.startswith("cache/models")] == ["cache"]
    assert [Path(p).name for p in left if p.count("/") == 3] == [".lock", "uri"]
    assert not any(p.endswith("escaped.bin") for p in os.listdir(home.root.parent))
