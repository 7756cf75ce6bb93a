"""Real servers on loopback for the storage tests (see file_server.py, tests.support.moto)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from mlservice.home import Home
from tests.storage.file_server import CountingHandler, FileServer, write_tar_gz
from tests.support.moto import Moto, running_moto


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "mls-home")


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    """One moto_server for the session; IAM auth is switched on once a user and key exist, so
    a wrong secret key really fails the signature check."""
    with running_moto(tmp_path_factory.mktemp("moto"), record=True) as server:
        yield server


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[FileServer]:
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


@pytest.fixture
def tar_gz() -> Callable[[Path, dict[str, bytes]], Path]:
    return write_tar_gz
