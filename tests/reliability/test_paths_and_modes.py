"""The data dir is its owner's alone (F1), `.s3cfg` errors never quote it (F3), and models
and mounts stay inside their volumes (F4, F5), against a real `mls up` and the pieces."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sqlite3
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlservice.api.app import create_app
from mlservice.api.auth import load_or_create_token
from mlservice.engine.local.paths import container_log
from mlservice.errors import InvalidInput, InvalidStorageSource
from mlservice.home import Home
from mlservice.storage import fetch_model
from mlservice.storage.volumes import copy_files, create_volume, plan_copy
from mlservice.store import Scope
from mlservice.store.sqlite import SqliteStore
from tests.e2e.e2e_helpers import condition, wait_for
from tests.support.up import PLATFORM_ARGS, apply, mls_on, up_process

SECRET = "AKIA-s3cr3t-never-shown"


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The common default umask, so only mlservice can be what makes files private."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def not_private(root: Path) -> list[str]:
    """Every file and folder under `root` (itself included) with a group or other bit."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode) and stat.S_IMODE(mode) & 0o077:
            found.append(f"{oct(stat.S_IMODE(mode))} {path.relative_to(root.parent)}")
    return found


SERVICES = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
---
apiVersion: v1
kind: Secret
metadata: {name: s3, labels: {tensorstack.dev/resource: s3}}
stringData: {.s3cfg: "access_key = AKIA\\nsecret_key = $SECRET\\n"}
""".replace("$SECRET", SECRET)

FILES = """
apiVersion: tensorstack.dev/v1beta1
kind: SimpleMLService
metadata: {name: files}
spec:
  storage:
    pvc: {name: data, subPath: current, containerPath: /srv/model}
  custom:
    spec:
      containers:
        - name: user-container
          command: [python, -m, http.server, $(PORT), --directory, /srv/model]
"""

ESCAPING = """
apiVersion: tensorstack.dev/v1beta1
kind: MLService
metadata: {name: escaping}
spec:
  default: v1
  releases:
    - name: v1
      predictor:
        model: {modelFormat: {name: sklearn}, modelUri: "pvc://data/evil/"}
"""


def test_f1_a_data_dir_made_by_mls_up_is_private_and_f4_links_out_are_refused(
    tmp_path: Path, loose_umask: None
) -> None:
    """F1: `state.db`, `-wal`, `-shm` were 0644 and the data dir 0755, so any local user read
    every Secret. F4: a model folder holding a file that links out of its volume was served.
    One `mls up`, a Secret, a volume filled by `mls volume cp`, a service serving from it
    through a symlink inside the volume, and a service whose model links out."""
    source = tmp_path / "model"
    source.mkdir()
    (source / "model.joblib").write_bytes(b"weights")
    (source / "run.sh").write_text("#!/bin/sh\n")
    (source / "run.sh").chmod(0o755)
    outside = tmp_path / "outside.joblib"
    outside.write_bytes(b"someone else's file")
    home = tmp_path / "data"  # made by `mls up`, under a 022 umask
    with up_process(home, args=(*PLATFORM_ARGS, "--no-warm-standby")) as up:
        apply(up, SERVICES, "default")
        copied = mls_on(up, "volume", "cp", str(source), "pvc://data/m")
        assert copied.returncode == 0, copied.stderr
        volume = up.home.volume("data")
        (volume / "current").symlink_to("m")  # a link inside the volume keeps working
        (volume / "evil").mkdir(mode=0o700)  # by hand, as its owner would
        (volume / "evil" / "model.joblib").symlink_to(outside)
        apply(up, FILES, "default")
        apply(up, ESCAPING, "default")

        served = wait_for(
            up, "files", "default", lambda o: o.get("status", {}).get("ready") is True,
            kind="simplemlservice",
        )  # fmt: skip
        address = served["status"]["endpoints"][0]["http"]
        assert "model.joblib" in httpx.get(f"http://{address}/", timeout=10).text
        refused = condition(wait_for(up, "escaping", "default", lambda o: "reason" in condition(o)))
        assert (refused["status"], refused["reason"]) == ("False", "ModelDownloadFailed")
        assert "holds evil/model.joblib, which links outside volume data" in refused["message"]

        assert (up.home.root / "state.db-wal").exists()
        assert (up.home.root / "state.db-shm").exists()
        logs = {p.name for p in up.home.root.rglob("*.log")}
        assert {"up.log", "gateway.log", "storage-initializer.log", "user-container.log"} <= logs
        assert not_private(up.home.root) == []
        assert stat.S_IMODE((volume / "m" / "run.sh").stat().st_mode) == 0o700
    assert not_private(home) == []


def test_f1_an_existing_data_dir_is_made_private_when_mls_up_starts(
    tmp_path: Path, loose_umask: None
) -> None:
    """F1, for data dirs written before the rule: what `mls up` reads first (the token) makes
    the folder and its top level private, and the store tightens its database files."""
    home = Home(tmp_path / "data")
    home.root.mkdir(mode=0o755)
    old = sqlite3.connect(home.state_db)  # an older run's database, -wal and -shm 0644
    old.execute("PRAGMA journal_mode=WAL")
    old.execute("CREATE TABLE t (x)")
    for name in ("token", "endpoints.json", "up.log"):
        (home.root / name).write_text("x\n")
    (home.root / "logs" / "requests").mkdir(parents=True)
    assert len(not_private(home.root)) == 9
    try:
        load_or_create_token(home)
        store = SqliteStore(home.state_db)
        store.close()
    finally:
        old.close()
    # Deeper down only the folder's own mode changed, which is enough: nobody else gets in.
    assert not_private(home.root) == [f"0o755 {home.root.name}/logs/requests"]


def test_f1_the_model_cache_and_copies_into_a_volume_are_private(
    tmp_path: Path, loose_umask: None
) -> None:
    """F1: what storage writes (the cache, `mls volume cp`) is private whichever process
    writes it, not only under `mls up`."""
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("model.joblib", "sub/extra.bin"):
            info = tarfile.TarInfo(name)
            info.size, info.mode = 1, 0o644
            tar.addfile(info, io.BytesIO(b"x"))
    home = Home(tmp_path / "data")
    fetched = fetch_model(f"file://{archive}", home=home)
    assert (fetched / "sub" / "extra.bin").read_bytes() == b"x"
    os.umask(0o022)  # a new `mls` process
    create_volume(Home(tmp_path / "other"), "v")
    copy_files(plan_copy(Home(tmp_path / "other"), archive, "pvc://v/in/"), advance=print)
    assert not_private(home.root) == []
    assert not_private(tmp_path / "other") == []


def post(path: str, body: dict[str, Any], *, home: Home, store: SqliteStore) -> httpx.Response:
    app = create_app(store=store, home=home, token="t0k")

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        headers = {"Authorization": "Bearer t0k"}
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await client.post(path, json=body, headers=headers)

    return asyncio.run(send())


@pytest.mark.parametrize(
    "data",
    [
        {".s3cfg": f"access_key = AKIA\nsecret_key {SECRET}\n"},  # no "="
        {".s3cfg": f"access_key = AKIA\n = {SECRET}\n"},  # no key
        {".s3cfg": "access_key = AKIA\n", "token": [SECRET]},  # not a string
    ],
)
def test_f3_a_malformed_s3cfg_is_refused_without_quoting_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, data: dict[str, Any]
) -> None:
    """F3: the API's 422 for a malformed `.s3cfg` quoted the offending line, secret included;
    it now names the line by its number (and a bad value by its key)."""
    caplog.set_level(logging.DEBUG)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s3", "labels": {"tensorstack.dev/resource": "s3"}},
        "stringData": data,
    }
    store = SqliteStore.in_memory()
    try:
        reply = post("/api/v1/namespaces/default/secrets", secret, home=Home(tmp_path), store=store)
        assert reply.status_code == 422
        assert SECRET not in reply.text
        assert "line 2" in reply.text or "key 'token'" in reply.text
        assert SECRET not in caplog.text
        assert store.list(Scope("", "Event", "default")).items == []
    finally:
        store.close()


def test_f3_a_malformed_s3cfg_reaching_storage_is_not_quoted(tmp_path: Path) -> None:
    """F3, where the model is fetched: the error and the storage-initializer log name the line
    and field, never what they hold."""
    lines: list[str] = []
    for text in (f"secret_key {SECRET}\n", f"secret_key = x\nuse_https = {SECRET}\n"):
        with pytest.raises(InvalidStorageSource) as caught:
            fetch_model("s3://bucket/m", home=Home(tmp_path), secret_s3cfg=text, log=lines.append)
        assert SECRET not in str(caught.value)
    assert SECRET not in "\n".join(lines)


@pytest.mark.parametrize(
    ("replica", "container"),
    [
        ("out", "x"),  # a replica folder that links out
        ("r1", "../../../../../elsewhere/x"),
        ("../../../../elsewhere", "x"),
    ],
)
def test_a_log_is_read_only_from_inside_the_replicas_folder(
    tmp_path: Path, replica: str, container: str
) -> None:
    """`mls logs --replica/--container` name a file under the data dir: `safe_join` checks it,
    so no name reads `elsewhere/x.log`."""
    home = Home(tmp_path / "data")
    (home.replicas / "ns" / "rev" / "r1").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.log").write_text("not a log of ours\n")
    (home.replicas / "ns" / "rev" / "out").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InvalidInput, match=r"is not a name|links outside"):
        container_log(home, "ns", "rev", container=container, replica=replica)
