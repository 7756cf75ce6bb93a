"""Bounded waits: poll a predicate until it holds, fail with a message naming what never came."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
Message = str | Callable[[], str]


class WaitTimeout(AssertionError):
    """A wait ran out of time: a test failure, not an error of the code under test."""


def _failure(message: Message, timeout: float) -> WaitTimeout:
    text = message() if callable(message) else message
    return WaitTimeout(f"timed out after {timeout:g}s waiting for {text}")


def wait_until(
    predicate: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.05,
    message: Message = "the condition",
) -> T:
    """The predicate's first truthy value, trying every `interval` s for `timeout` s (at least
    once); then WaitTimeout naming `message` (a callable is asked only then, so it can show the
    last state seen). An exception from the predicate ends the wait at once."""
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise _failure(message, timeout)
        time.sleep(interval)


async def wait_until_async(
    predicate: Callable[[], T | None] | Callable[[], Awaitable[T | None]],
    *,
    timeout: float,  # noqa: ASYNC109 - the same bounded poll as wait_until, not a cancel scope
    interval: float = 0.05,
    message: Message = "the condition",
) -> T:
    """`wait_until` for the event loop: sleeps without blocking it; `predicate` may be async."""
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if inspect.isawaitable(found):
            found = await found
        if found:
            return found
        if time.monotonic() >= deadline:
            raise _failure(message, timeout)
        await asyncio.sleep(interval)
