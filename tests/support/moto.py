"""Helpers behind the storage fixtures: a `moto_server` (S3 with IAM signature checks), a stdlib
HTTP file server that counts the requests it answers, and archive builders.

A module of its own (not conftest) so tests can import its types without clashing with other
folders' conftest modules."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import boto3
import httpx

ALLOW_S3 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Moto:
    endpoint: str
    recording: Path
    access_key: str = ""
    secret_key: str = ""

    def s3cfg(self, *, secret_key: str | None = None) -> str:
        host = self.endpoint.removeprefix("http://")
        return (
            "[default]\n"
            f"host_base = {host}\n"
            f"host_bucket = {host}\n"
            "bucket_location = us-east-1\n"
            "use_https = False\n"
            f"access_key = {self.access_key}\n"
            f"secret_key = {secret_key if secret_key is not None else self.secret_key}\n"
            "signature_v2 = False\n"
        )

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )

    def gets(self, path: str) -> int:
        """How many GETs of exactly `path` (e.g. "/bucket/key") the server has answered."""
        url = self.endpoint + path
        lines = self.recording.read_text().splitlines() if self.recording.exists() else []
        entries = [json.loads(line) for line in lines]
        return sum(1 for e in entries if e["method"] == "GET" and e["url"] == url)


def wait_until_up(endpoint: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited with {proc.returncode}")
        try:
            httpx.get(f"{endpoint}/moto-api/data.json", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"moto_server at {endpoint} did not answer within 60 s")


def enable_auth(server: Moto) -> None:
    iam = boto3.client(
        "iam",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="bootstrap",
        aws_secret_access_key="bootstrap",
    )
    iam.create_user(UserName="models-reader")
    key = iam.create_access_key(UserName="models-reader")["AccessKey"]
    iam.put_user_policy(UserName="models-reader", PolicyName="s3", PolicyDocument=ALLOW_S3)
    server.access_key, server.secret_key = key["AccessKeyId"], key["SecretAccessKey"]
    # From here on every request is authenticated against the key above.
    httpx.post(f"{server.endpoint}/moto-api/reset-auth", content=b"0", timeout=10)


@dataclass
class FileServer:
    """A stdlib HTTP server over `root`; `hits[(method, path)]` counts requests answered."""

    root: Path
    url: str
    hits: Counter[tuple[str, str]] = field(default_factory=Counter)
    delay: float = 0.0
    head_status: int | None = None
    """Answer HEAD with this error status instead, as presigned-URL servers do."""


class CountingHandler(SimpleHTTPRequestHandler):
    server_state: FileServer

    def do_GET(self) -> None:
        self.server_state.hits["GET", self.path] += 1
        time.sleep(self.server_state.delay)
        super().do_GET()

    def do_HEAD(self) -> None:
        self.server_state.hits["HEAD", self.path] += 1
        if self.server_state.head_status is not None:
            self.send_error(self.server_state.head_status)
            return
        super().do_HEAD()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is not the place for access logs."""


def write_tar_gz(path: Path, files: dict[str, bytes]) -> Path:
    """A plain, well-formed model archive."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@contextmanager
def running_moto(folder: Path, *, record: bool) -> Iterator[Moto]:
    """A moto_server on a free loopback port with IAM auth on and bucket `models` made, stopped
    on exit. `record` turns on moto's request recording (the cache tests count GETs with it)."""
    recording = folder / ("recording.jsonl" if record else "none.jsonl")
    env = dict(os.environ)
    if record:
        env |= {"MOTO_ENABLE_RECORDING": "1", "MOTO_RECORDER_FILEPATH": str(recording)}
    port = free_port()
    with (folder / "server.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        server = Moto(endpoint=f"http://127.0.0.1:{port}", recording=recording)
        wait_until_up(server.endpoint, proc)
        enable_auth(server)
        server.client().create_bucket(Bucket="models")
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
