"""One real `mls up` and one headless Chromium for the console's browser tests (module scope:
each costs seconds), logged in through the `mls ui` link."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mlservice.cli.background import UpProcess
from tests.console.browser import ARGS, VIEWPORT, chromium_path
from tests.support.up import up_process


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    with up_process(tmp_path_factory.mktemp("console") / "home") as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=list(ARGS))
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) at 1280x800; page errors fail the test."""
    context = browser.new_context(viewport=VIEWPORT)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, errors
