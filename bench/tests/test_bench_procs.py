"""Process handling with real processes: CPU accounting across children, readiness, group kill."""

import os
import pathlib
import subprocess
import sys
import time

import pytest

from mlsbench import procs

# The parent sleeps while its child burns CPU: a tree count must see the child's time.
BURN_IN_CHILD = """
import subprocess, sys, time
code = "import time\\nend = time.process_time() + 0.4\\nwhile time.process_time() < end: pass"
subprocess.run([sys.executable, "-c", code])
print("child done", flush=True)
time.sleep(30)
"""


def test_tree_cpu_counts_reaped_children():
    with subprocess.Popen([sys.executable, "-c", BURN_IN_CHILD], stdout=subprocess.PIPE) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == b"child done"
            assert procs._children(proc.pid) == []
            assert procs.tree_cpu_ms(proc.pid) >= 350
        finally:
            proc.kill()


def test_tree_cpu_counts_live_children():
    code = "import time\nend = time.process_time() + 30\nwhile time.process_time() < end: pass"
    launcher = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {code!r}])"
    parent = subprocess.Popen([sys.executable, "-c", launcher], start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while procs.tree_cpu_ms(parent.pid) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert procs.tree_cpu_ms(parent.pid) >= 300
        # The parent only waits: the time seen is the live child's.
        assert procs._ticks(parent.pid) * 1000 / procs.CLOCK_TICKS < 300
    finally:
        procs.stop(parent)


def test_running_waits_for_ready_and_kills_the_whole_group(tmp_path):
    port = procs.free_port()
    # A shell leader with a grandchild that would outlive a plain kill of the leader.
    script = f"sleep 300 & exec {sys.executable} -m http.server {port} --bind 127.0.0.1"
    with procs.running(
        "http",
        ["sh", "-c", script],
        port=port,
        env=os.environ,
        cwd=tmp_path,
        log_path=tmp_path / "http.log",
    ) as server:
        procs.wait_ready(server, path="/", timeout=30)
        pgid = os.getpgid(server.proc.pid)
        assert pgid == server.proc.pid
        assert _live_in_group(pgid) >= 2
    # Orphans are reaped by init a moment later; zombies in between are already dead.
    deadline = time.monotonic() + 10
    while _live_in_group(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _live_in_group(pgid) == 0


def _live_in_group(pgid: int) -> int:
    """Processes of group `pgid` that are not zombies."""
    count = 0
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            count += 1
    return count


def test_wait_ready_reports_an_early_exit_with_the_log(tmp_path):
    port = procs.free_port()
    argv = [sys.executable, "-c", "print('bad model dir'); raise SystemExit(3)"]
    with (
        procs.running(
            "broken", argv, port=port, env=os.environ, cwd=tmp_path, log_path=tmp_path / "b.log"
        ) as server,
        pytest.raises(RuntimeError, match=r"exited with code 3(.|\n)*bad model dir"),
    ):
        procs.wait_ready(server, path="/", timeout=30)


def test_others_on_the_server_core_are_measured():
    # A sleeping "server" pinned to core 0 while a busy loop holds that core.
    idle = subprocess.Popen(procs.pinned(["sleep", "30"], 0), start_new_session=True)
    busy_code = "import time\nend = time.monotonic() + 30\nwhile time.monotonic() < end: pass"
    busy = subprocess.Popen(procs.pinned([sys.executable, "-c", busy_code], 0))
    try:
        time.sleep(0.2)  # let the busy loop get going; the measurement window follows
        before = procs.sample(idle.pid, 0)
        time.sleep(1.0)
        use = procs.used(before, procs.sample(idle.pid, 0))
        assert use.server_ms < 50
        assert use.others_pct is not None
        assert use.others_pct >= 50
        assert procs.used(before, procs.sample(idle.pid, None)).others_pct is None
    finally:
        procs.stop(busy)
        procs.stop(idle)


def test_prioritize_sets_the_process_and_its_autogroup(tmp_path):
    with procs.running(
        "sleeper",
        ["sleep", "30"],
        port=procs.free_port(),
        env=os.environ,
        cwd=tmp_path,
        log_path=tmp_path / "s.log",
        nice=5,
    ) as server:
        assert os.getpriority(os.PRIO_PROCESS, server.proc.pid) == 5
        autogroup = pathlib.Path(f"/proc/{server.proc.pid}/autogroup")
        if autogroup.exists():
            assert autogroup.read_text().strip().endswith("nice 5")
