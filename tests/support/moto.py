"""A `moto_server` (S3, with IAM signature checks) on a free loopback port, for the storage,
end-to-end and examples tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx

from tests.support.polling import wait_until
from tests.support.ports import free_port

ALLOW_S3 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
)


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


def _answers(endpoint: str, proc: subprocess.Popen[bytes]) -> bool:
    if proc.poll() is not None:
        raise RuntimeError(f"moto_server exited with {proc.returncode}")
    try:
        httpx.get(f"{endpoint}/moto-api/data.json", timeout=2)
    except httpx.TransportError:
        return False
    return True


@contextmanager
def moto_server(folder: Path, *, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """A bare moto_server (no auth, no buckets) logging to `folder`; its endpoint. Stopped on
    exit."""
    port = free_port()
    with (folder / "server.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ if env is None else env),
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: _answers(endpoint, proc),
            timeout=60,
            interval=0.1,
            message=f"moto_server to answer at {endpoint}",
        )
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


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


@contextmanager
def running_moto(folder: Path, *, record: bool) -> Iterator[Moto]:
    """A moto_server with IAM auth on and bucket `models` made, stopped on exit. `record`
    turns on moto's request recording (the cache tests count GETs with it)."""
    recording = folder / ("recording.jsonl" if record else "none.jsonl")
    env = dict(os.environ)
    if record:
        env |= {"MOTO_ENABLE_RECORDING": "1", "MOTO_RECORDER_FILEPATH": str(recording)}
    with moto_server(folder, env=env) as endpoint:
        server = Moto(endpoint=endpoint, recording=recording)
        enable_auth(server)
        server.client().create_bucket(Bucket="models")
        yield server
