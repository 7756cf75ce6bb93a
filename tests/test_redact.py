"""Secrets out of URLs: what `redact_url` keeps and what it masks."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mlservice.redact import MASK, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://sink:8080/events", "http://sink:8080/events"),
        ("https://bob:pw@sink/in", "https://bob:***@sink/in"),
        ("https://bob@sink/in", "https://bob@sink/in"),
        ("https://:pw@sink/in", "https://:***@sink/in"),
        ("https://a:b:c@sink/in", "https://a:***@sink/in"),
        ("http://sink/in?token=abc&x=1", "http://sink/in?token=***&x=***"),
        ("http://sink/in?abc123", "http://sink/in?***"),
        ("http://sink/in?token=", "http://sink/in?token=***"),
        ("http://sink/in#access_token=abc", "http://sink/in#***"),
        ("http://u:p@[::1]:9/x?k=v", "http://u:***@[::1]:9/x?k=***"),
        ("http://[::1/x?k=v", MASK),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


secret = st.text(st.characters(categories=["L", "N"]), min_size=6, max_size=20)


@given(password=secret, token=secret)
def test_neither_password_nor_query_value_survives(password: str, token: str) -> None:
    skeleton = "https://user:***@sink.example/path?key=***"
    assume(password not in skeleton and token not in skeleton)
    url = f"https://user:{password}@sink.example/path?key={token}"
    redacted = redact_url(url)
    assert password not in redacted
    assert token not in redacted
    assert redacted.startswith("https://user:***@sink.example/path?key=")
