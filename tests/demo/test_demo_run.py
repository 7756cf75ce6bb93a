"""`make run`'s acceptance, headless and bounded: `python -m mlservice.demo` with a fresh data
dir and free ports reaches "ready", each curl command it prints answers the digit in
examples/data (a 3), the request log fills, and SIGINT stops it with nothing left running."""

from __future__ import annotations

import json
import os
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from mlservice.demo.instructions import READY_PREFIX
from tests.support.paths import REPO
from tests.support.processes import wait_no_processes
from tests.support.up import FREE_PORTS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
READY_WITHIN = 150.0


class Demo:
    """The demo as a child process, its output read line by line on a thread (bounded waits)."""

    def __init__(self, home: Path) -> None:
        command = [sys.executable, "-m", "mlservice.demo", "--home", str(home)]
        command += FREE_PORTS
        # MLS_HOME in the environment marks every process it starts, so leftovers can be found.
        env = {**os.environ, "MLS_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,))
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError("the demo exited early:\n" + "\n".join(self.lines))
            self.lines.append(line)
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no line {prefix!r} within {timeout:g}s:\n" + "\n".join(self.lines))

    def close(self) -> None:
        """Kill it if it still runs; join the reader and close the pipe."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        self._reader.join(10)
        assert self.process.stdout is not None
        self.process.stdout.close()

    def stop(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    running = Demo(tmp_path / "home")
    try:
        yield running
    finally:
        running.close()


def _run(command: str) -> tuple[int, str]:
    """The printed command as the user runs it: curl in a shell from the repository root,
    or the same request with httpx where curl is not installed."""
    if shutil.which("curl"):
        done = subprocess.run(
            ["bash", "-c", f"{command} --fail-with-body"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return done.returncode, done.stdout
    return _replay(shlex.split(command))


def _replay(argv: list[str]) -> tuple[int, str]:
    headers, method, body = {}, "GET", b""
    args = iter(argv[1:])
    url = ""
    for arg in args:
        if arg == "-H":
            name, _, value = next(args).partition(":")
            headers[name.strip()] = value.strip()
        elif arg == "-T":
            method, body = "PUT", (REPO / next(args)).read_bytes()
        elif arg == "-d":
            value = next(args)
            method = "POST"
            body = (REPO / value[1:]).read_bytes() if value.startswith("@") else value.encode()
        elif not arg.startswith("-"):
            url = arg
    answer = httpx.request(method, url, headers=headers, content=body, timeout=60)
    return (0 if answer.is_success else 22), answer.text


def _check_answers(answers: list[dict[str, Any]]) -> None:
    image, tensor, release = answers
    assert len(image["predictions"]) == 1
    assert image["predictions"][0]["label"] == 3
    assert 0.5 < image["predictions"][0]["probability"] <= 1.0
    outputs = {o["name"]: o for o in tensor["outputs"]}
    assert outputs["label"]["data"] == [3]
    assert 0.5 < outputs["probability"]["data"][0] <= 1.0
    assert release == {"predictions": [3]}


@pytest.mark.timeout(READY_WITHIN + 90)
def test_demo_reaches_ready_its_commands_work_and_ctrl_c_stops_everything(
    demo: Demo, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    ready = demo.wait_for(READY_PREFIX, READY_WITHIN)
    assert "http://digits.default.localhost:" in ready
    demo.wait_for("Ctrl-C stops everything.", 10)
    commands = [line.strip() for line in demo.lines if line.startswith("  curl ")]
    assert len(commands) == 3, demo.lines
    assert all('-H "Host: digits' in command for command in commands)

    answers = []
    for command in commands:
        code, out = _run(command)
        assert code == 0, f"{command} failed ({code}): {out}"
        answers.append(json.loads(out))
    _check_answers(answers)
    # The canary gets a fifth of the traffic; both releases know the digit.
    for _ in range(10):
        code, out = _run(commands[0])
        assert code == 0, out
        assert json.loads(out)["predictions"][0]["label"] == 3, out

    log_line = next(line for line in demo.lines if line.startswith("Request log"))
    log_dir = Path(log_line.rpartition(": ")[2])
    assert log_dir == home / "logs" / "requests"
    events = [
        json.loads(line) for f in log_dir.glob("*.jsonl") for line in f.read_text().splitlines()
    ]
    sources = {event["source"] for event in events}
    assert "digits-predict-v1" in sources, sources
    assert any(source.startswith("digits-transform") for source in sources), sources

    assert demo.stop() == 0, "\n".join(demo.lines)
    wait_no_processes(home)
