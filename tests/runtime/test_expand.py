"""`$(VAR)` expansion follows the kubelet's rules exactly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlservice.runtime import expand, expand_env

VARS = {"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_EMPTY": "", "VAR_REF": "$(VAR_A)"}

CASES = [
    ("$(VAR_A)", "A"),
    ("___$(VAR_B)___", "___B___"),
    ("$(VAR_A)-1", "A-1"),
    ("$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"),
    ("$(VAR_A)$(VAR_A)", "AA"),
    ("$(VAR_EMPTY)", ""),
    ("$(VAR_DNE)", "$(VAR_DNE)"),
    ("$(VAR_REF)", "$(VAR_A)"),  # a value is not expanded again
    ("$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A"),
    ("$$(VAR_A)_$$(VAR_B)", "$(VAR_A)_$(VAR_B)"),
    ("f000-$$VAR_A", "f000-$VAR_A"),
    ("foo\\$(VAR_C)bar", "foo\\Cbar"),
    ("$$$$$$(VAR_A)", "$$$(VAR_A)"),
    ("$$$$$$$(VAR_A)", "$$$A"),
    ("$VAR_A", "$VAR_A"),
    ("$(VAR_A", "$(VAR_A"),
    ("$(", "$("),
    ("$()", "$()"),
    ("$(VAR_A)$", "A$"),
    ("$", "$"),
    ("$(VAR_A$(VAR_B))", "$(VAR_A$(VAR_B))"),
    ("--port=$(PORT)", "--port=$(PORT)"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] or "empty" for c in CASES])
def test_expands_as_the_kubelet_does(text: str, expected: str) -> None:
    assert expand(text, VARS) == expected


def test_env_values_see_earlier_vars_and_the_base_only() -> None:
    env = expand_env(
        [
            ("A", "x"),
            ("B", "$(A)-y"),
            ("C", "$(D)"),  # D is defined later: stays literal
            ("D", "d"),
            ("URL", "http://127.0.0.1:$(PORT)/"),
            ("PORT", "$(PORT)0"),  # a container var may build on the engine's
        ],
        {"PORT": "2000", "MODEL_DIR": "/m"},
    )
    assert env == {
        "A": "x",
        "B": "x-y",
        "C": "$(D)",
        "D": "d",
        "URL": "http://127.0.0.1:2000/",
        "PORT": "20000",
        "MODEL_DIR": "/m",
    }


_text = st.text(alphabet="$()AB_x", max_size=20)


@settings(max_examples=300, deadline=None)
@given(text=_text.filter(lambda t: "$$" not in t))
def test_without_vars_expansion_is_identity(text: str) -> None:
    assert expand(text, {}) == text
    assert expand(expand(text, {}), {}) == expand(text, {})


@settings(max_examples=300, deadline=None)
@given(text=_text)
def test_unknown_vars_are_left_as_written(text: str) -> None:
    as_written = {name: f"$({name})" for name in ("A", "B", "AB", "A_B")}
    assert expand(text, {}) == expand(text, as_written)


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="abc $", max_size=20))
def test_text_without_references_only_loses_escapes(text: str) -> None:
    assert expand(text, VARS) == expand(text, {})
    assert "$" not in text or expand(text, VARS).count("$") <= text.count("$")
