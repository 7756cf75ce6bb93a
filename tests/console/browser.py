"""Headless Chromium for the console's browser tests: Debian's `chromium` (`make test`
installs it when missing), driven by Playwright for Python through `executable_path`, never a
browser Playwright downloads. Off CI a missing browser skips those tests saying why; on CI
(`CI=true`) it fails them, as tests/support/kubectl.py does for kubectl."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PLAYWRIGHT = importlib.util.find_spec("playwright") is not None
MISSING = (
    "the console's browser tests need Debian's chromium (`make pytest` installs it as root) "
    "and Playwright for Python (the dev extra)"
)
ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
VIEWPORT = {"width": 1280, "height": 800}


def needs_browser() -> pytest.MarkDecorator:
    """A mark for browser tests: skipped without chromium or Playwright, except on CI."""
    missing = CHROMIUM is None or not PLAYWRIGHT
    return pytest.mark.skipif(missing and not os.environ.get("CI"), reason=MISSING)


def chromium_path() -> str:
    assert PLAYWRIGHT, MISSING
    assert CHROMIUM is not None, MISSING
    return CHROMIUM


def artifacts(name: str) -> Path:
    """Where a test writes screenshots: `$MLS_ARTIFACTS/NAME`, else the temp dir's
    `artifacts/NAME` (never inside the checkout: they are not committed)."""
    root = Path(os.environ.get("MLS_ARTIFACTS") or Path(tempfile.gettempdir()) / "artifacts")
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder
