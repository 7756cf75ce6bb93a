"""The `mls` entry point is installed and answers."""

from __future__ import annotations

import subprocess
import sys

from mlservice import __version__


def test_mls_version_prints_package_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mlservice", "version"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == __version__


def test_mls_help_lists_commands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mlservice", "--help"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "version" in out.stdout


def test_help_lists_every_command_group() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mlservice", "--help"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    for command in ("up", "apply", "get", "describe", "delete", "wait", "logs", "volume", "serve"):
        assert f" {command} " in out.stdout, command
