"""Pure parts of the local engine: launch building, quantities, resources, probes, backoff."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlservice.engine import (
    ContainerPort,
    ContainerSpec,
    HTTPGetAction,
    Probe,
    ReplicaId,
    Resources,
    RevisionSpec,
    TCPSocketAction,
)
from mlservice.engine.local import LocalEngineConfig
from mlservice.engine.local.launch import (
    LaunchError,
    ReplicaContext,
    build_launch,
    expand,
    rewrite_mounts,
    uses_dynamic_port,
)
from mlservice.engine.local.logtail import rotate_if_large, says_address_in_use, tail
from mlservice.engine.local.paths import replica_dir
from mlservice.engine.local.probes import plan_probe
from mlservice.engine.local.quantity import parse_bytes, parse_cpu
from mlservice.engine.local.resources import available_cpus, plan_resources
from mlservice.engine.local.supervisor import Backoff
from mlservice.errors import InvalidInput
from mlservice.home import Home

MOUNT = "/var/lib/t9k/model"
LOCAL = Path("/data/models/abc")


def container(**fields: object) -> ContainerSpec:
    fields.setdefault("command", ("serve",))
    return ContainerSpec(name="user-container", **fields)  # type: ignore[arg-type]


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
    assert uses_dynamic_port(container())
    assert uses_dynamic_port(container(args=("--port", "$(PORT)"), ports=(ContainerPort(80),)))
    assert uses_dynamic_port(container(env={"ADDR": ":$(PORT)"}, ports=(ContainerPort(80),)))
    assert not uses_dynamic_port(container(ports=(ContainerPort(80),)))


def context(tmp_path: Path, spec: ContainerSpec, **revision: object) -> ReplicaContext:
    rev = RevisionSpec(
        namespace="ns",
        name="svc-predict-v1-00001",
        service="svc",
        component="predict",
        release="v1",
        containers=(spec,),
        **revision,  # type: ignore[arg-type]
    )
    replica = ReplicaId("svc-predict-v1-00001-abcde")
    dirs = replica_dir(Home(tmp_path), "ns", rev.name, replica)
    return ReplicaContext(rev, replica, dirs, port=21000, grpc_port=21001)


def test_launch_env_engine_variables_win_and_secrets_stay_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLS_TOKEN", "control-plane-secret")
    monkeypatch.setenv("PATH", "/usr/bin")
    spec = container(env={"PORT": "1", "A": "$(PORT)", "B": "$(A)/x"})
    ctx = context(tmp_path, spec)
    launched = build_launch(spec, ctx)
    assert launched.env["PORT"] == "21000"
    assert (launched.env["A"], launched.env["B"]) == ("21000", "21000/x")
    # Our interpreter's folder comes first, so built-in runtimes find our `mls` and `python`.
    assert launched.env["PATH"] == f"{os.path.dirname(sys.executable)}:/usr/bin"
    assert "MLS_TOKEN" not in launched.env
    assert "MODEL_DIR" not in launched.env  # no model: nothing to point at
    assert launched.cwd == ctx.dirs.workdir("user-container")
    assert launched.cwd.is_dir()


def test_launch_rewrites_command_args_env_and_other_volumes(tmp_path: Path) -> None:
    spec = container(
        command=(f"{MOUNT}/run.sh",),
        args=("--data", "/mnt/data/x", "--model", "$(MODEL_DIR)"),
        env={"WEIGHTS": f"{MOUNT}/w.bin"},
    )
    ctx = context(tmp_path, spec, model_dir=LOCAL, volumes={"/mnt/data": tmp_path / "vol"})
    launched = build_launch(spec, ctx)
    assert launched.argv == (
        f"{LOCAL}/run.sh",
        "--data",
        f"{tmp_path}/vol/x",
        "--model",
        str(LOCAL),
    )
    assert launched.env["WEIGHTS"] == f"{LOCAL}/w.bin"
    assert launched.env["MODEL_DIR"] == str(LOCAL)


def test_launch_refuses_a_missing_working_dir(tmp_path: Path) -> None:
    spec = container(working_dir="/no/such/dir/mls")
    with pytest.raises(LaunchError, match="workingDir '/no/such/dir/mls'"):
        build_launch(spec, context(tmp_path, spec))


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


def test_resources_plan_enforces_memory_and_cpu_and_reports_the_rest() -> None:
    many = str(len(available_cpus()) + 1)
    spec = container(
        resources=Resources(
            limits={"memory": "1Gi", "cpu": many, "ephemeral-storage": "1Gi"},
            requests={"cpu": many, "nvidia.com/gpu": "2"},
        )
    )
    plan = plan_resources(spec)
    where = "containers[user-container].resources"
    assert plan.memory_limit == 2**30
    assert plan.cpu_cores == len(available_cpus())
    assert set(plan.warnings) == {
        f"{where}.limits.ephemeral-storage=1Gi is not enforced by the local engine",
        f"{where}.requests.nvidia.com/gpu=2 is not enforced by the local engine",
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
    ports = (ContainerPort(8080, name="http"),)
    by_name = container(ports=ports, readiness_probe=Probe(http_get=HTTPGetAction("http", "/ok")))
    other = container(ports=ports, readiness_probe=Probe(tcp_socket=TCPSocketAction(9090)))
    plan = plan_probe(by_name, is_server=True, port=21000, config=CONFIG)
    assert plan is not None
    assert (plan.check.kind, plan.check.port, plan.check.path) == ("http", 21000, "/ok")
    plan = plan_probe(other, is_server=True, port=21000, config=CONFIG)
    assert plan is not None
    assert (plan.check.kind, plan.check.port) == ("tcp", 9090)


def test_probe_naming_an_undeclared_port_is_refused() -> None:
    spec = container(readiness_probe=Probe(http_get=HTTPGetAction("metrics")))
    with pytest.raises(InvalidInput, match="names port 'metrics', which the container"):
        plan_probe(spec, is_server=True, port=21000, config=CONFIG)


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
