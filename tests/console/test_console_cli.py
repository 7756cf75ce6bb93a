"""`mls ui` and the link `mls up` prints only on a terminal."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

from mlservice.cli.ui import console_link
from tests.support.cli import mls, user_env


def test_the_link_carries_the_token_in_the_fragment() -> None:
    assert console_link("http://127.0.0.1:8787/", "abc") == "http://127.0.0.1:8787/ui/#token=abc"


def test_mls_ui_without_a_token_says_to_start_mls_up(tmp_path: Path) -> None:
    done = mls("ui", home=tmp_path / "none")
    assert done.returncode == 1
    assert "start `mls up` first" in done.stderr


def test_mls_up_prints_the_console_link_on_a_terminal(tmp_path: Path) -> None:
    home = tmp_path / "home"
    leader, follower = pty.openpty()
    args = ["up", "--api-only", "--api-port", "0", "--api-tls-port", "0"]
    process = subprocess.Popen(
        [sys.executable, "-m", "mlservice", *args],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env=user_env(home),
        start_new_session=True,
    )
    os.close(follower)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while b"mlservice console: " not in seen and time.monotonic() < deadline:
            try:
                seen += os.read(leader, 4096)
            except OSError:
                break  # the terminal closed: `mls up` ended
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)
        os.close(leader)
    token = (home / "token").read_text().strip()
    line = next(x for x in seen.decode().splitlines() if x.startswith("mlservice console: "))
    assert line.strip().endswith(f"/ui/#token={token}")
