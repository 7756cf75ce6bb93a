"""Pure parts of the local engine: launch building, quantities, resources, probes, backoff."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlservice.engine import ReplicaId, Revision
from mlservice.engine.local import LocalEngineConfig
from mlservice.engine.local.launch import (
    ReplicaContext,
    build_launch,
    rewrite_mounts,
    uses_dynamic_port,
)
from mlservice.engine.local.logtail import rotate_if_large, says_address_in_use, tail
from mlservice.engine.local.paths import replica_dir
from mlservice.engine.local.probes import plan_probe
from mlservice.engine.local.quantity import parse_bytes, parse_cpu
from mlservice.engine.local.resolve import LocalRevision
from mlservice.engine.local.resources import available_cpus, plan_resources
from mlservice.engine.local.supervisor import Backoff
from mlservice.errors import InvalidInput, LaunchError
from mlservice.home import Home
from mlservice.runtime import EnvVar, RenderedContainer, expand
from tests.engine.engine_helpers import revision

MOUNT = "/var/lib/t9k/model"
LOCAL = Path("/data/models/abc")


def served_revision(**fields: Any) -> Revision:
    fields.setdefault("command", ("serve",))
    return revision(namespace="ns", **fields)


def container(**fields: Any) -> RenderedContainer:
    """The serving container of a one-container revision, as the engine reads its PodSpec."""
    return served_revision(**fields).user_container


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("--port=$(PORT)", "--port=8000"),
        ("$(PORT)$(GRPC_PORT)", "80009000"),
        ("$(NOPE) stays", "$(NOPE) stays"),
        ("$PORT is not a reference", "$PORT is not a reference"),
        ("$(LOOP)", "$(PORT)"),  # expansion is not recursive, as in Kubernetes
    ],
)
def test_expand(text: str, expected: str) -> None:
    assert expand(text, {"PORT": "8000", "GRPC_PORT": "9000", "LOOP": "$(PORT)"}) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MOUNT, str(LOCAL)),
        (f"{MOUNT}/", f"{LOCAL}/"),
        (f"--model_dir={MOUNT}/mnist.pt", f"--model_dir={LOCAL}/mnist.pt"),
        (f"{MOUNT}s/other", f"{MOUNT}s/other"),
        (f"{MOUNT}-2", f"{MOUNT}-2"),
        (f"a:{MOUNT},b", f"a:{LOCAL},b"),
    ],
)
def test_rewrite_mounts_replaces_whole_path_prefixes(text: str, expected: str) -> None:
    assert rewrite_mounts(text, {MOUNT: LOCAL}) == expected


def test_dynamic_port_unless_a_declared_port_is_never_asked_for() -> None:
    port_80 = [{"containerPort": 80}]
    assert uses_dynamic_port(container())
    assert uses_dynamic_port(container(args=("--port", "$(PORT)"), ports=port_80))
    assert uses_dynamic_port(container(env={"ADDR": ":$(PORT)"}, ports=port_80))
    assert not uses_dynamic_port(container(ports=port_80))
    # A resolved Secret's value is data: `$(PORT)` inside it asks for nothing.
    fixed = container(ports=port_80)
    secret = EnvVar("TOKEN", "x$(PORT)", value_from={"secretKeyRef": {"name": "s", "key": "k"}})
    assert not uses_dynamic_port(replace(fixed, env=(secret,)))


def context(
    tmp_path: Path,
    rev: Revision,
    *,
    containers: tuple[RenderedContainer, ...] | None = None,
    model_dir: Path | None = None,
    volumes: dict[str, Path] | None = None,
) -> ReplicaContext:
    """A replica of `rev` as the resolver would hand it over: `containers` (default: as
    parsed), the model at its mount path and `MODEL_DIR`, `volumes` (mount path -> folder)."""
    mounts = dict(volumes or {})
    variables = {}
    if model_dir is not None:
        mounts[MOUNT] = model_dir
        variables["MODEL_DIR"] = str(model_dir)
    local = LocalRevision(rev, containers or rev.containers, model_dir, mounts, variables)
    replica = ReplicaId("svc-predict-v1-00001-abcde")
    dirs = replica_dir(Home(tmp_path), "ns", rev.name, replica)
    return ReplicaContext(local, replica, dirs, port=21000, grpc_port=21001)


def test_launch_env_engine_variables_win_and_secrets_stay_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLS_TOKEN", "control-plane-secret")
    monkeypatch.setenv("PATH", "/usr/bin")
    rev = served_revision(env={"PORT": "1", "A": "$(PORT)", "B": "$(A)/x"})
    ctx = context(tmp_path, rev)
    launched = build_launch(rev.user_container, ctx)
    assert launched.env["PORT"] == "21000"
    assert (launched.env["A"], launched.env["B"]) == ("21000", "21000/x")
    # Our interpreter's folder comes first, so built-in runtimes find our `mls` and `python`.
    assert launched.env["PATH"] == f"{os.path.dirname(sys.executable)}:/usr/bin"
    assert "MLS_TOKEN" not in launched.env
    assert "MODEL_DIR" not in launched.env  # no model: nothing to point at
    assert launched.cwd == ctx.dirs.workdir("user-container")
    assert launched.cwd.is_dir()


def test_launch_rewrites_command_args_env_and_other_volumes(tmp_path: Path) -> None:
    rev = served_revision(
        command=(f"{MOUNT}/run.sh",),
        args=("--data", "/mnt/data/x", "--model", "$(MODEL_DIR)"),
        env={"WEIGHTS": f"{MOUNT}/w.bin"},
    )
    ctx = context(tmp_path, rev, model_dir=LOCAL, volumes={"/mnt/data": tmp_path / "vol"})
    launched = build_launch(rev.user_container, ctx)
    assert launched.argv == (
        f"{LOCAL}/run.sh",
        "--data",
        f"{tmp_path}/vol/x",
        "--model",
        str(LOCAL),
    )
    assert launched.env["WEIGHTS"] == f"{LOCAL}/w.bin"
    assert launched.env["MODEL_DIR"] == str(LOCAL)


def test_launch_keeps_secret_values_literal(tmp_path: Path) -> None:
    token = {"secretKeyRef": {"name": "creds", "key": "token"}}
    rev = served_revision(
        args=("--token", "$(TOKEN)"),
        env=[{"name": "TOKEN", "valueFrom": token}, {"name": "COPY", "value": "$(TOKEN)"}],
    )
    [server] = rev.containers
    assert server.env[0].value_from == token  # parsed as written: the engine resolves it
    # The resolver fills in the Secret's value; a Secret is data, so `$(PORT)` and `$$` in it
    # are never expanded, and references to it copy it verbatim.
    secret = replace(server.env[0], value="a$(PORT)b$$c")
    resolved = replace(server, env=(secret, server.env[1]))
    launched = build_launch(resolved, context(tmp_path, rev, containers=(resolved,)))
    assert launched.env["TOKEN"] == "a$(PORT)b$$c"
    assert launched.env["COPY"] == "a$(PORT)b$$c"
    assert launched.argv == ("serve", "--token", "a$(PORT)b$$c")


def test_launch_refuses_a_missing_working_dir(tmp_path: Path) -> None:
    rev = served_revision(workingDir="/no/such/dir/mls")
    with pytest.raises(LaunchError, match="workingDir '/no/such/dir/mls'"):
        build_launch(rev.user_container, context(tmp_path, rev))


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [("512Mi", 512 * 2**20), ("1G", 10**9), ("1Ki", 1024), ("1e3", 1000), ("0.5Gi", 2**29)],
)
def test_parse_bytes(quantity: str, expected: int) -> None:
    assert parse_bytes(quantity, field="memory") == expected


@pytest.mark.parametrize(("quantity", "expected"), [("500m", 0.5), ("2", 2.0), ("1.5", 1.5)])
def test_parse_cpu(quantity: str, expected: float) -> None:
    assert parse_cpu(quantity, field="cpu") == expected


@pytest.mark.parametrize("bad", ["", "12XB", "Mi", "1.2.3", "-1Gi", "1 Gi"])
def test_bad_quantities_name_the_field(bad: str) -> None:
    with pytest.raises(InvalidInput, match=r"^limits\.memory "):
        parse_bytes(bad, field="limits.memory")


@given(st.integers(min_value=0, max_value=2**40), st.sampled_from(["Ki", "Mi", "Gi", "k", "M"]))
def test_binary_and_decimal_suffixes_scale_exactly(number: int, suffix: str) -> None:
    scale = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3, "M": 10**6}[suffix]
    assert parse_bytes(f"{number}{suffix}", field="memory") == number * scale


def test_resources_plan_enforces_memory_cpu_and_gpus_and_reports_the_rest() -> None:
    many = str(len(available_cpus()) + 1)
    spec = container(
        resources={
            "limits": {"memory": "1Gi", "cpu": many, "ephemeral-storage": "1Gi"},
            "requests": {"cpu": many, "nvidia.com/gpu": "2"},
        }
    )
    plan = plan_resources(spec)
    where = "containers[user-container].resources"
    assert plan.memory_limit == 2**30
    assert plan.cpu_cores == len(available_cpus())
    assert plan.gpus == 2  # a GPU request alone counts, as Kubernetes defaults the limit to it
    assert set(plan.warnings) == {
        f"{where}.limits.ephemeral-storage=1Gi is not enforced by the local engine",
        f"{where}.requests.cpu={many} exceeds the {len(available_cpus())} CPUs available",
        f"{where}.limits.cpu={many} is capped at the {len(available_cpus())} CPUs available",
    }


CONFIG = LocalEngineConfig(home=Home(Path("/unused")), probe_period=0.25, probe_timeout=0.75)


def test_default_probe_is_v2_health_on_the_replica_port() -> None:
    plan = plan_probe(container(), is_server=True, port=21000, config=CONFIG)
    assert plan is not None
    assert (plan.check.kind, plan.check.port, plan.check.path) == (
        "default",
        21000,
        "/v2/health/ready",
    )
    assert (plan.period, plan.check.timeout) == (0.25, 0.75)
    assert plan_probe(container(), is_server=False, port=21000, config=CONFIG) is None


def test_probe_ports_map_the_declared_port_to_the_replica_port() -> None:
    ports = [{"containerPort": 8080, "name": "http"}, {"containerPort": 9100, "name": "admin"}]
    by_name = container(ports=ports, readinessProbe={"httpGet": {"port": "http", "path": "/ok"}})
    other = container(ports=ports, readinessProbe={"tcpSocket": {"port": 9090}})
    admin = container(ports=ports, readinessProbe={"httpGet": {"port": "admin"}})
    plan = plan_probe(by_name, is_server=True, port=21000, config=CONFIG)
    assert plan is not None
    assert (plan.check.kind, plan.check.port, plan.check.path) == ("http", 21000, "/ok")
    plan = plan_probe(other, is_server=True, port=21000, config=CONFIG)
    assert plan is not None
    assert (plan.check.kind, plan.check.port) == ("tcp", 9090)
    # Another declared port, by name, is that port: only the serving one is remapped.
    plan = plan_probe(admin, is_server=True, port=21000, config=CONFIG)
    assert plan is not None
    assert (plan.check.kind, plan.check.port, plan.check.path) == ("http", 9100, "/")


def test_probe_timings_come_from_the_probe_else_the_config() -> None:
    probe = {"httpGet": {"port": 8080}, "periodSeconds": 3, "timeoutSeconds": 2}
    probe |= {"initialDelaySeconds": 4, "successThreshold": 2, "failureThreshold": 5}
    plan = plan_probe(container(readinessProbe=probe), is_server=True, port=1, config=CONFIG)
    assert plan is not None
    assert (plan.initial_delay, plan.period, plan.check.timeout) == (4, 3, 2)
    assert (plan.success_threshold, plan.failure_threshold) == (2, 5)
    plain = {"tcpSocket": {"port": 8080}}
    plan = plan_probe(container(readinessProbe=plain), is_server=True, port=1, config=CONFIG)
    assert plan is not None
    assert (plan.initial_delay, plan.period, plan.check.timeout) == (0.0, 0.25, 0.75)
    assert (plan.success_threshold, plan.failure_threshold) == (1, 3)


def test_probe_naming_an_undeclared_port_is_refused() -> None:
    # Refused where the PodSpec is read, before any engine plans a probe.
    rev = served_revision(readinessProbe={"httpGet": {"port": "metrics"}})
    with pytest.raises(
        InvalidInput,
        match='Readiness probe port "metrics" names no port of container "user-container"',
    ):
        _ = rev.containers


def test_backoff_doubles_to_the_cap_and_resets_after_a_stable_run() -> None:
    backoff = Backoff(base=0.5, cap=10.0, stable_after=30.0)
    assert [backoff.next_delay(uptime=1.0) for _ in range(7)] == [0.5, 1, 2, 4, 8, 10, 10]
    assert backoff.next_delay(uptime=31.0) == 0.5


@pytest.mark.parametrize(
    "line",
    [
        "OSError: [Errno 98] Address already in use",
        "ERROR: [Errno 98] error while attempting to bind on address ('127.0.0.1', 80)",
        "listen tcp :8080: bind: address already in use",
        "java.net.BindException: Address in use",
    ],
)
def test_address_in_use_is_recognised(line: str) -> None:
    assert says_address_in_use(f"starting\n{line}\n")


def test_tail_reads_only_what_the_last_start_wrote(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    log.write_text("old run: Address already in use\n")
    since = log.stat().st_size
    with log.open("a") as out:
        out.writelines(f"line {i}\n" for i in range(30))
    text = tail(log, since=since, lines=3)
    assert text == "line 27\nline 28\nline 29"
    assert not says_address_in_use(tail(log, since=since))
    assert tail(tmp_path / "missing.log") == ""


def test_logs_rotate_past_their_limit(tmp_path: Path) -> None:
    log = tmp_path / "user-container.log"
    log.write_text("x" * 100)
    rotate_if_large(log, 200)
    assert log.read_text() == "x" * 100
    rotate_if_large(log, 50)
    assert not log.exists()
    assert (tmp_path / "user-container.log.1").read_text() == "x" * 100
