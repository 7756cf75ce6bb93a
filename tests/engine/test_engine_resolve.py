"""The local engine resolves an engine-neutral revision on this machine: Secret values of
`secretKeyRef`s, PersistentVolumeClaims as folders, programs on PATH, the model in place."""

from __future__ import annotations

import copy
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlservice.engine import Revision
from mlservice.engine.local import LocalEngine
from mlservice.engine.local.resolve import Resolver
from mlservice.errors import InvalidInput, NotFound, RuntimeUnavailable, StorageError
from mlservice.home import Home
from mlservice.resources import Secret, parse_as, validate_object
from tests.engine.engine_helpers import ECHO_SERVER, Events, container, fast_config, revision

pytestmark = pytest.mark.anyio

# A Secret is data: `$(PORT)` and `$$` in it must reach the process as written.
TOKEN = "s3cr3t-$(PORT)-$$-end"


def secret(name: str, **values: str) -> Secret:
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "default"},
        "stringData": values,
    }
    return parse_as(Secret, validate_object(manifest))


SECRETS = {("default", "creds"): secret("creds", token=TOKEN)}


def lookup(namespace: str, name: str) -> Secret:
    try:
        return SECRETS[namespace, name]
    except KeyError:
        raise NotFound(f"Secret {namespace}/{name} does not exist.") from None


@pytest.fixture
async def engine(home: Home) -> AsyncIterator[LocalEngine]:
    async with LocalEngine(fast_config(home), secrets=lookup) as running:
        yield running


def secret_env(name: str, secret_name: str, key: str, **ref: object) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key, **ref}}}


def with_secret_and_claim(**fields: Any) -> Revision:
    """The echo server reading `TOKEN` from Secret `creds` and a claim `data` (its `team-a`
    folder) at /mnt/data, as a user's manifest would write them."""
    env = [
        secret_env("TOKEN", "creds", "token"),
        secret_env("OPTIONAL", "absent", "token", optional=True),
        {"name": "WEIGHTS", "value": "/mnt/data/weights.txt"},
    ]
    server = container(
        args=("--token=$(TOKEN)", "--data=/mnt/data"),
        env=env,
        volumeMounts=[{"name": "shared", "mountPath": "/mnt/data", "subPath": "team-a"}],
        workingDir="/mnt/data",
        **fields,
    )
    volumes = [{"name": "shared", "persistentVolumeClaim": {"claimName": "data"}}]
    return revision(containers=[server], volumes=volumes)


async def fetch_self(port: int) -> dict[str, Any]:
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        reply = await client.get(f"http://127.0.0.1:{port}/self")
    reply.raise_for_status()
    return reply.json()  # type: ignore[no-any-return]


async def test_secret_values_and_claims_reach_the_replica_resolved(
    engine: LocalEngine, events: Events, home: Home
) -> None:
    folder = home.volume("data") / "team-a"
    folder.mkdir(parents=True)
    (folder / "weights.txt").write_text("w")
    rev = with_secret_and_claim()
    written = copy.deepcopy(dict(rev.pod_spec))

    await engine.ensure(rev, 1)
    [state] = await events.until_ready(1)
    assert state.port is not None
    seen = await fetch_self(state.port)

    env = seen["env"]
    assert env["TOKEN"] == TOKEN
    assert "OPTIONAL" not in env  # an optional reference to a missing Secret is left out
    assert env["WEIGHTS"] == str(folder / "weights.txt")
    assert seen["cwd"] == str(folder)
    assert seen["argv"][1:] == [f"--token={TOKEN}", f"--data={folder}"]
    # The revision itself stays engine-neutral: the reference and the claim, unresolved.
    assert rev.pod_spec == written
    [token_ref, *_] = rev.pod_spec["containers"][0]["env"]
    assert token_ref == secret_env("TOKEN", "creds", "token")
    assert rev.pod_spec["volumes"][0]["persistentVolumeClaim"] == {"claimName": "data"}


async def test_a_missing_secret_or_key_is_refused_by_prepare(engine: LocalEngine) -> None:
    missing = revision(env=[secret_env("TOKEN", "nope", "token")])
    with pytest.raises(InvalidInput, match=r"Secret default/nope \(an env secretKeyRef\) does"):
        await engine.prepare(missing)
    no_key = revision(env=[secret_env("TOKEN", "creds", "password")])
    with pytest.raises(InvalidInput, match="Secret default/creds has no key 'password'"):
        await engine.prepare(no_key)
    with pytest.raises(InvalidInput, match="Secret default/nope"):
        await engine.ensure(missing, 1)
    assert await engine.replicas() == []


async def test_a_missing_program_is_refused_before_the_model_is_fetched(
    engine: LocalEngine, tmp_path: Path
) -> None:
    nowhere = tmp_path / "no-model-here"
    absent = revision(command=("no-such-program-mls", "--port", "$(PORT)"), model_dir=nowhere)
    with pytest.raises(
        RuntimeUnavailable,
        match=r"MLService default/svc \(predict/v1\) runs 'no-such-program-mls', which is not",
    ):
        await engine.prepare(absent)
    with pytest.raises(RuntimeUnavailable):
        await engine.ensure(absent, 1)
    # Given a program that exists, the same model is what fails.
    with pytest.raises(StorageError):
        await engine.prepare(revision(model_dir=nowhere))
    assert await engine.replicas() == []


async def test_a_required_program_must_be_on_path(engine: LocalEngine) -> None:
    rev = revision()
    needs = replace(rev, requires=("no-such-tool-mls",))
    with pytest.raises(RuntimeUnavailable, match="runs 'no-such-tool-mls'"):
        await engine.prepare(needs)
    await engine.prepare(rev)


async def test_a_pod_with_only_args_runs_its_first_argument(
    engine: LocalEngine, events: Events
) -> None:
    # No image entrypoint exists locally: the first argument names the program.
    await engine.ensure(revision(command=(), args=(sys.executable, ECHO_SERVER)), 1)
    [state] = await events.until_ready(1)
    assert state.port is not None
    assert (await fetch_self(state.port))["argv"] == [ECHO_SERVER]


def claiming(claim: str, sub_path: str | None = None) -> Revision:
    mount: dict[str, Any] = {"name": "shared", "mountPath": "/mnt/data"}
    if sub_path is not None:
        mount["subPath"] = sub_path
    volumes = [{"name": "shared", "persistentVolumeClaim": {"claimName": claim}}]
    return revision(containers=[container(volumeMounts=[mount])], volumes=volumes)


@pytest.mark.parametrize("claim", ["../../../../etc", "/etc", "data/../../..", "", "Data"])
async def test_f5_a_claim_name_that_is_no_volume_name_is_refused(
    engine: LocalEngine, home: Home, claim: str
) -> None:
    """F5: a template's `claimName: ../../../../etc` (or `/etc`) mounted /etc; the claim must
    now name a volume, or the pod is refused (CreateContainerConfigError), naming it."""
    with pytest.raises(InvalidInput) as caught:
        await engine.prepare(claiming(claim))
    # Refused when the PodSpec is read (the claim is no object name), and by the resolver
    # again should a claim ever get past that: either way the claim is named.
    message = caught.value.message
    assert f'"{claim}"' in message or f"{claim!r}" in message, message
    assert await engine.replicas() == []


@pytest.mark.parametrize(
    ("sub_path", "why"),
    [
        ("out", "leads outside volume data through a symlink (out links outside it)"),
        ("out/etc", "leads outside volume data through a symlink (out links outside it)"),
        ("team-a/hop", "leads outside volume data through a symlink (team-a/hop links"),
    ],
)
async def test_f5_a_sub_path_leaving_its_volume_is_refused(
    engine: LocalEngine, home: Home, tmp_path: Path, sub_path: str, why: str
) -> None:
    """F5: a volumeMount `subPath` through a symlink escaped its volume; it is now checked as
    SimpleMLService's pvc subPath is, by the same `safe_join` (`..` and absolute subPaths are
    refused when the pod spec is read)."""
    outside = tmp_path / "outside"
    (outside / "etc").mkdir(parents=True)
    volume = home.volume("data")
    (volume / "team-a").mkdir(parents=True)
    (volume / "out").symlink_to(outside)
    (volume / "team-a" / "hop").symlink_to("../out/etc")
    with pytest.raises(InvalidInput) as caught:
        await engine.prepare(claiming("data", sub_path))
    assert caught.value.message.startswith(
        "MLService default/svc (predict/v1): container user-container mounts volume 'shared' "
        f"with subPath {sub_path!r}, a path that {why}"
    )


async def test_a_sub_path_through_a_symlink_inside_its_volume_is_mounted(home: Home) -> None:
    volume = home.volume("data")
    (volume / "team-a").mkdir(parents=True)
    (volume / "current").symlink_to("team-a")
    resolved = await Resolver(home=home).resolve(claiming("data", "current"))
    assert resolved.mounts == {"/mnt/data": volume / "current"}
