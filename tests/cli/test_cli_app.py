"""The `mls` entry point is installed and answers."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import typer

from mlservice import __version__
from mlservice.cli import build_app
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


def test_piped_help_keeps_every_option_name_whole() -> None:
    """Off a terminal rich used 80 columns and cut names: `--predictor-host-hea…`."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TERMINAL_WIDTH")}
    out = subprocess.run(
        [sys.executable, "-m", "mlservice", "serve", "--help"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    serve = typer.main.get_command(build_app("serve")).commands["serve"]  # type: ignore[attr-defined]
    names = [o for p in serve.params if not p.hidden for o in p.opts if o.startswith("--")]
    assert "--predictor-host-header" in names
    for name in names:
        assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", out.stdout), name
    assert "…" not in out.stdout
