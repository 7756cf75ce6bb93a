"""`nvidia.com/gpu` limits: whole GPUs from what the machine lists, shown to the replica as
`CUDA_VISIBLE_DEVICES`; with too few the replica waits `Pending`/`Unschedulable` and starts
once they are there. The lister is a fake: this machine has no `nvidia-smi`."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest

from mlservice.engine.base import ReplicaState
from mlservice.engine.local import LocalEngine
from mlservice.engine.local.gpus import GpuPool, gpu_count, nvidia_smi_gpus, parse_gpu_list
from mlservice.engine.local.procfs import environ_value
from mlservice.errors import InvalidInput
from mlservice.home import Home
from tests.engine.engine_helpers import Events, fast_config, revision

NVIDIA_SMI_L = """\
GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-0c1a9e4e-0000-0000-0000-000000000000)
GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-1d2b8f5f-0000-0000-0000-000000000000)
  MIG 1g.5gb Device 0: (UUID: MIG-aaaa)
"""


def test_nvidia_smi_listing_is_parsed_and_its_absence_means_none() -> None:
    assert parse_gpu_list(NVIDIA_SMI_L) == ["0", "1"]
    if shutil.which("nvidia-smi") is None:
        assert nvidia_smi_gpus() == []


def test_gpu_counts_are_whole_numbers() -> None:
    assert gpu_count({"cpu": "1"}, where="c") == 0
    assert gpu_count({"nvidia.com/gpu": "2"}, where="c") == 2
    with pytest.raises(InvalidInput, match=r"c.limits.nvidia.com/gpu=500m must be a whole"):
        gpu_count({"nvidia.com/gpu": "500m"}, where="c")


def test_the_pool_gives_each_holder_distinct_gpus_until_released() -> None:
    machine = ["0", "1", "2"]
    pool = GpuPool(lambda: machine)
    assert pool.claim("a", 2) == (("0", "1"), None)
    assert pool.claim("a", 2) == (("0", "1"), None)  # a holder keeps what it has
    assert pool.claim("b", 2) == (
        (),
        "needs 2 GPUs (nvidia.com/gpu), this machine lists 3 (2 in use by other replicas).",
    )
    pool.release("a")
    assert pool.claim("b", 2) == (("0", "1"), None)
    assert pool.held("b") == ("0", "1")


class Machine:
    def __init__(self, *gpus: str) -> None:
        self.gpus = list(gpus)

    def list(self) -> list[str]:
        return list(self.gpus)


@pytest.fixture
def machine() -> Machine:
    return Machine("0")


@pytest.fixture
async def engine(home: Home, machine: Machine) -> AsyncIterator[LocalEngine]:
    async with LocalEngine(fast_config(home), gpus=machine.list) as running:
        yield running


def visible_devices(state: ReplicaState) -> str | None:
    assert state.pid is not None
    with open(f"/proc/{state.pid}/environ", "rb") as environ:
        variables = dict(
            item.split(b"=", 1) for item in environ.read().split(b"\0") if b"=" in item
        )
    value = variables.get(b"CUDA_VISIBLE_DEVICES")
    return None if value is None else value.decode()


pytestmark = pytest.mark.anyio


async def test_too_few_gpus_leave_the_replica_unschedulable_until_they_appear(
    engine: LocalEngine, events: Events, machine: Machine
) -> None:
    await engine.ensure(revision(resources={"limits": {"nvidia.com/gpu": "2"}}), 1)
    [waiting] = await events.until(
        lambda states: len(states) == 1 and states[0].reason == "Unschedulable",
        what="an unschedulable replica",
    )
    assert (waiting.phase, waiting.ready, waiting.pid) == ("Pending", False, None)
    assert waiting.message == "needs 2 GPUs (nvidia.com/gpu), this machine lists 1."
    assert waiting.warnings == ()

    machine.gpus.append("1")
    [running] = await events.until_ready(1)
    assert visible_devices(running) == "0,1"


async def test_gpus_go_to_one_replica_at_a_time_and_others_get_none(
    engine: LocalEngine, events: Events, machine: Machine
) -> None:
    gpu = revision(resources={"limits": {"nvidia.com/gpu": "1"}})
    await engine.ensure(gpu, 2)
    states = await events.until(
        lambda states: (
            len(states) == 2
            and sorted((s.ready, s.reason) for s in states)
            == [(False, "Unschedulable"), (True, "")]
        ),
        what="one replica running and one waiting for a GPU",
    )
    [running] = [s for s in states if s.ready]
    assert visible_devices(running) == "0"
    [waiting] = [s for s in states if not s.ready]
    assert waiting.message.endswith("(1 in use by other replicas).")

    await engine.ensure(gpu, 1)  # the waiting one goes first; the GPU stays where it is
    [kept] = await engine.replicas(gpu.id)
    assert kept.id == running.id
    await engine.stop(gpu.id)  # gives the GPU back

    again = revision(name="svc-predict-v1-00002", resources={"limits": {"nvidia.com/gpu": "1"}})
    await engine.ensure(again, 1)
    await engine.ensure(revision(name="plain-predict-v1-00001", service="plain"), 1)
    states = await events.until_ready(2)
    by_revision = {s.revision_id.split("/", 1)[1]: s for s in states}
    assert visible_devices(by_revision["svc-predict-v1-00002"]) == "0"
    assert visible_devices(by_revision["plain-predict-v1-00001"]) is None


def test_an_adopted_replica_keeps_the_gpus_its_process_was_started_with() -> None:
    pool = GpuPool(lambda: ["0", "1"])
    pool.adopt("old/user-container", ("1",))
    assert pool.claim("new/user-container", 1) == (("0",), None)
    assert pool.claim("other/user-container", 1)[1] is not None
    assert environ_value(os.getpid(), "PATH") == os.environ["PATH"]
    assert environ_value(os.getpid(), "MLS_NO_SUCH_VARIABLE_SET") is None
