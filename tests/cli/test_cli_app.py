"""The `mls` entry point is installed and answers."""

from __future__ import annotations

from mlservice import __version__
from tests.support.cli import mls


def test_mls_version_prints_package_version() -> None:
    out = mls("version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == __version__


def test_mls_help_lists_commands() -> None:
    out = mls("--help")
    assert out.returncode == 0, out.stderr
    assert "version" in out.stdout


def test_help_lists_every_command_group() -> None:
    out = mls("--help")
    assert out.returncode == 0, out.stderr
    for command in ("up", "apply", "get", "describe", "delete", "wait", "logs", "volume", "serve"):
        assert f" {command} " in out.stdout, command
