"""Row measurement: a disturbed row is measured again, a row with no request is a failure."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from mlsbench import procs, runner
from mlsbench.wrk import LoadResult


def _plan(*, core: int | None, retries: int) -> runner.Plan:
    return runner.Plan(
        duration=1,
        warmup=0,
        concurrency=(1,),
        server_core=core,
        load_core=None,
        start_timeout=10,
        grpc_clients=1,
        grpc_streams=1,
        noisy_retries=retries,
    )


@pytest.fixture
def idle_server(tmp_path) -> Iterator[procs.ServerProcess]:
    with procs.running(
        "idle",
        procs.pinned(["sleep", "60"], 0),
        port=procs.free_port(),
        env=os.environ,
        cwd=tmp_path,
        log_path=tmp_path / "idle.log",
    ) as server:
        yield server


class _Load:
    def __init__(self, requests: int) -> None:
        self.calls = 0
        self.requests = requests

    def __call__(self) -> LoadResult:
        self.calls += 1
        time.sleep(0.5)
        return LoadResult(self.requests, seconds=0.5, p50_ms=1.0, p99_ms=2.0, errors=0)


def test_a_row_disturbed_by_other_jobs_is_measured_again(idle_server):
    code = "import time\nend = time.monotonic() + 30\nwhile time.monotonic() < end: pass"
    hog = subprocess.Popen(procs.pinned([sys.executable, "-c", code], 0), start_new_session=True)
    try:
        load = _Load(requests=100)
        plan = _plan(core=0, retries=1)
        row = runner._measured(idle_server, plan, protocol="rest", concurrency=1, load=load)
        assert load.calls == 2
        assert row.cpu.others_pct is not None
        assert row.cpu.others_pct > runner.RETRY_ABOVE_PCT
    finally:
        procs.stop(hog)


def test_an_unpinned_row_is_measured_once(idle_server):
    load = _Load(requests=100)
    row = runner._measured(
        idle_server, _plan(core=None, retries=3), protocol="rest", concurrency=1, load=load
    )
    assert load.calls == 1
    assert row.load.requests == 100


def test_a_row_without_requests_fails_naming_the_server(idle_server):
    with pytest.raises(RuntimeError, match="server idle completed no grpc request in 1 s"):
        runner._measured(
            idle_server,
            _plan(core=None, retries=0),
            protocol="grpc",
            concurrency=16,
            load=_Load(requests=0),
        )
