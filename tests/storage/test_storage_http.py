"""`http://` against a real stdlib HTTP server on loopback that counts requests."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from mlservice.errors import InvalidStorageSource, StorageNotFound, StorageUnreachable
from mlservice.home import Home
from mlservice.storage import fetch_model
from tests.storage.file_server import FileServer
from tests.support.ports import free_port


def test_single_file_lands_in_a_cache_folder(file_server: FileServer, home: Home) -> None:
    (file_server.root / "model.joblib").write_bytes(b"weights" * 1000)
    lines: list[str] = []
    path = fetch_model(f"{file_server.url}/model.joblib", home=home, log=lines.append)
    assert path.parent.parent == home.model_cache
    assert [p.name for p in path.iterdir()] == ["model.joblib"]
    assert (path / "model.joblib").read_bytes() == b"weights" * 1000
    assert f"downloaded {file_server.url}/model.joblib (6.8 KiB)" in lines


def test_second_fetch_is_served_from_cache_until_the_file_changes(
    file_server: FileServer, home: Home
) -> None:
    model = file_server.root / "model.bin"
    model.write_bytes(b"v1")
    uri = f"{file_server.url}/model.bin"
    first = fetch_model(uri, home=home)
    assert fetch_model(uri, home=home) == first
    assert file_server.hits["GET", "/model.bin"] == 1
    assert file_server.hits["HEAD", "/model.bin"] == 2

    model.write_bytes(b"v2, longer")
    stat = model.stat()
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5 * 10**9))
    changed = fetch_model(uri, home=home)
    assert changed != first
    assert (changed / "model.bin").read_bytes() == b"v2, longer"
    assert file_server.hits["GET", "/model.bin"] == 2


def test_concurrent_fetches_download_once(file_server: FileServer, home: Home) -> None:
    (file_server.root / "big.bin").write_bytes(os.urandom(1 << 20))
    file_server.delay = 0.3  # keeps the first download going while the others arrive
    uri = f"{file_server.url}/big.bin"
    start = threading.Barrier(3)
    results: list[Path] = []

    def fetch() -> None:
        start.wait(timeout=10)
        results.append(fetch_model(uri, home=home))

    threads = [threading.Thread(target=fetch) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 3
    assert len(set(results)) == 1
    assert file_server.hits["GET", "/big.bin"] == 1
    assert (results[0] / "big.bin").read_bytes() == (file_server.root / "big.bin").read_bytes()
    leftovers = [p.name for p in results[0].parent.iterdir() if p.name.startswith(".tmp")]
    assert leftovers == []


def test_archive_is_extracted(
    file_server: FileServer, home: Home, tar_gz: Callable[[Path, dict[str, bytes]], Path]
) -> None:
    tar_gz(file_server.root / "model.tgz", {"1/model.pt": b"pt"})
    path = fetch_model(f"{file_server.url}/model.tgz", home=home)
    assert (path / "1" / "model.pt").read_bytes() == b"pt"
    assert not (path / "model.tgz").exists()


def test_missing_file_names_the_uri_without_credentials(file_server: FileServer) -> None:
    home = Home(file_server.root.parent / "home")
    host = file_server.url.removeprefix("http://")
    with pytest.raises(StorageNotFound) as caught:
        fetch_model(f"http://reader:hunter2@{host}/missing.bin?sig=abc", home=home)
    assert caught.value.message == f"http://***@{host}/missing.bin does not exist (HTTP 404)."


def test_unreachable_server_is_reported_as_such(home: Home) -> None:
    uri = f"http://127.0.0.1:{free_port()}/model.bin"
    with pytest.raises(StorageUnreachable, match=r"^http://127\.0\.0\.1:\d+/model\.bin is unreach"):
        fetch_model(uri, home=home)


def test_url_without_a_file_name_is_refused(file_server: FileServer, home: Home) -> None:
    with pytest.raises(InvalidStorageSource, match="does not end in a file name"):
        fetch_model(f"{file_server.url}/models/", home=home)


def test_large_download_logs_a_handful_of_progress_lines(
    file_server: FileServer, home: Home
) -> None:
    (file_server.root / "big.bin").write_bytes(bytes(4 << 20))
    uri = f"{file_server.url}/big.bin"
    lines: list[str] = []
    fetch_model(uri, home=home, log=lines.append)
    assert [line for line in lines if "big.bin" in line and "cache" not in line] == [
        f"fetching {uri}",
        f"downloading {uri} (4.0 MiB)",
        f"  {uri}: 25% 1.0 MiB",
        f"  {uri}: 50% 2.0 MiB",
        f"  {uri}: 75% 3.0 MiB",
        f"downloaded {uri} (4.0 MiB)",
    ]


def test_server_refusing_head_is_fetched_afresh_each_time(
    file_server: FileServer, home: Home
) -> None:
    (file_server.root / "model.bin").write_bytes(b"m")
    file_server.head_status = 403
    first = fetch_model(f"{file_server.url}/model.bin", home=home)
    second = fetch_model(f"{file_server.url}/model.bin", home=home)
    assert first != second
    assert (first / "model.bin").read_bytes() == (second / "model.bin").read_bytes() == b"m"
    assert file_server.hits["GET", "/model.bin"] == 2
