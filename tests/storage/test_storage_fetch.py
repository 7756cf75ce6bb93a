"""What `fetch_model` and `fetch_into` say when they fail: every error goes to the log too, and
an OS error is a StorageError naming the URI as it may be shown (no credentials)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlservice.errors import InvalidStorageSource, StorageError
from mlservice.home import Home
from mlservice.storage import fetch_model
from mlservice.storage.fetch import fetch_into


def test_an_os_error_names_the_uri_without_its_credentials(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.write_text("a file where the folder goes")
    lines: list[str] = []
    uri = "https://user:pw@models.example/m.joblib?sig=abc"
    with pytest.raises(StorageError) as caught:
        fetch_into(uri, dest, claim_root=tmp_path, log=lines.append)
    message = "Fetching https://***@models.example/m.joblib failed (File exists)."
    assert caught.value.message == message
    assert caught.value.__cause__ is None
    assert lines == [f"error: {message}"]


def test_a_uri_refused_is_logged_and_raised_as_is(tmp_path: Path) -> None:
    lines: list[str] = []
    with pytest.raises(InvalidStorageSource) as caught:
        fetch_into("file:///models/m", tmp_path / "dest", claim_root=tmp_path, log=lines.append)
    assert lines == [f"error: {caught.value.message}"]


def test_fetch_model_logs_a_refused_uri_too(tmp_path: Path) -> None:
    lines: list[str] = []
    with pytest.raises(InvalidStorageSource) as caught:
        fetch_model("ftp://host/m", home=Home(tmp_path / "home"), log=lines.append)
    assert lines == [f"error: {caught.value.message}"]
