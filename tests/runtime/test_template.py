"""The Go text/template subset: the reference's example, Go's semantics, and clear parse errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlservice.errors import TemplateError
from mlservice.runtime import render

MODELS_ARG = "--models {{if .MODEL_PATH}}{{.MODEL_PATH}}{{else}}all{{end}}"


def test_reference_models_arg_renders_both_ways() -> None:
    assert render(MODELS_ARG, {"MODEL_PATH": "mnist=model.mar"}) == "--models mnist=model.mar"
    assert render(MODELS_ARG, {}) == "--models all"
    assert render(MODELS_ARG, {"MODEL_PATH": ""}) == "--models all"


DATA: dict[str, Any] = {
    "Name": "svc",
    "S": "text",
    "E": "",
    "N": 3,
    "F": 2.5,
    "T": True,
    "L": ["a", "b", "c"],
    "M": {"k": {"z": 9}, "a": 1},
    "Z": 0,
}

CASES = [
    ("{{.Name}}-{{.S}}", "svc-text"),
    ("[{{.Missing}}]", "[]"),
    ("[{{.Missing.Deeper}}] [{{.S.Field}}]", "[] []"),
    ("{{if .T}}yes{{end}}", "yes"),
    ("{{if .Z}}a{{else if .E}}b{{else if .N}}c{{else}}d{{end}}", "c"),
    ("{{if not .Missing}}absent{{end}}", "absent"),
    ("{{with .M.k}}{{.z}}{{end}}", "9"),
    ("{{with .Missing}}x{{else with .S}}{{.}}{{else}}y{{end}}", "text"),
    ("{{with .E}}x{{else}}empty{{end}}", "empty"),
    ("{{range .L}}<{{.}}>{{end}}", "<a><b><c>"),
    ("{{range $i, $e := .L}}{{$i}}={{$e}} {{end}}", "0=a 1=b 2=c "),
    ("{{range $k, $v := .M}}{{$k}};{{end}}", "a;k;"),
    ("{{range .Missing}}x{{else}}none{{end}}", "none"),
    ('{{range .L}}{{if eq . "b"}}{{break}}{{end}}{{.}}{{end}}', "a"),
    ('{{range .L}}{{if eq . "b"}}{{continue}}{{end}}{{.}}{{end}}', "ac"),
    ("{{range 3}}{{.}}{{else}}not a list{{end}}", "not a list"),
    ('{{if eq .S "text"}}t{{end}}{{if ne .S "x"}}n{{end}}', "tn"),
    ('{{if eq .S "a" "b" "text"}}any{{end}}', "any"),
    ('{{eq .Missing ""}} {{eq .N 3}} {{eq .N 3.0}} {{eq .N "3"}}', "true true true false"),
    ("{{lt .N 4}} {{le .N 3}} {{gt .F 2}} {{ge .N 4}} {{lt .S 1}}", "true true true false false"),
    ('{{lt "a" "b"}}', "true"),
    ("{{and .T .N}} {{and .T .Z .N}} {{or .E .Z}} {{or .E .S}}", "3 0 0 text"),
    ("{{not .T}} {{not .E}}", "false true"),
    ('{{len .L}} {{len .S}} {{index .L 1}} {{index .M "k" "z"}} {{index .L 7}}', "3 4 b 9 "),
    ('{{.S | eq "text"}} {{.N | lt 1}}', "true true"),
    ('{{(index .M "k").z}}', "9"),
    ('{{print 1 2 "a" .F .T}}', "1 2a2.5 true"),
    (
        "{{.L}} {{.M}} {{.F}} {{1e6}} {{0.00001}} {{2.0}}",
        "[a b c] map[a:1 k:map[z:9]] 2.5 1e+06 1e-05 2",
    ),
    ('{{$x := .S}}{{$x}}{{$x = "new"}} {{$x}}', "text new"),
    ("{{if $v := .N}}{{$v}}{{end}}", "3"),
    ("{{$.Name}}{{with .M}}{{$.Name}}{{end}}", "svcsvc"),
    ("a  {{- .S -}}  b", "atextb"),
    ("a {{- /* a comment */ -}} b{{/* another */}}", "ab"),
    ('{{"quote\\" tab\\t"}} {{`raw\\n`}} {{\'a\'}}', 'quote" tab\t raw\\n 97'),
    ("{{-3}} {{0x10}} {{1_000}}", "-3 16 1000"),
    ("no actions at all", "no actions at all"),
]


@pytest.mark.parametrize(("source", "expected"), CASES, ids=[c[0] for c in CASES])
def test_renders_like_go(source: str, expected: str) -> None:
    assert render(source, DATA) == expected


MALFORMED = [
    ("{{if .X}}", "{{if}} without {{end}}"),
    ("{{end}}", "unexpected {{end}}"),
    ("{{else}}", "unexpected {{else}}"),
    ("{{.X", "unclosed action"),
    ("{{foo .X}}", 'function "foo" not defined'),
    ("{{eq .X}}", "eq takes at least 2 argument(s), got 1"),
    ("{{not 1 2}}", "not takes 1 argument(s), got 2"),
    ('{{template "x"}}', "{{template}} is not supported"),
    ("{{.X 1}}", ".X is not a function"),
    ("{{1 | 2}}", "2 is not a function"),
    ('{{"a\\q"}}', "unknown escape"),
    ("{{break}}", "{{break}} outside a range"),
    ("{{range .X}}{{else if .Y}}{{end}}", "{{else if}} is not allowed in {{range}}"),
    ("{{if .X}}{{else with .Y}}{{end}}", "{{else with}} inside {{if}}"),
    ("{{/* open", "unclosed comment"),
    ("{{}}", "empty action"),
    ("{{(eq 1 1}}", "unclosed parenthesis"),
    ("{{$x := }}", "missing value"),
    ("{{if eq}}{{end}}", "eq takes at least 2"),
    ("{{ # }}", "unexpected '#'"),
]


@pytest.mark.parametrize(("source", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_templates_raise_a_clear_error(source: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render(source, {})
    assert message in caught.value.message
    assert caught.value.message.startswith(f"template {source!r}")


# Templates covering every construct; no parameter map may make them raise.
TEMPLATES = [
    MODELS_ARG,
    "{{.A}}{{.A.B.C}}{{.Name}}",
    "{{if and .A (not .B)}}x{{else if or .C .D}}y{{else}}z{{end}}",
    '{{if eq .A "s" 1 2.5 true}}e{{end}}{{if ne .A .B}}n{{end}}',
    '{{lt .A .B}}{{le .A 1}}{{gt .B "x"}}{{ge .A .C}}',
    "{{with .A}}{{.}}{{.B}}{{end}}",
    "{{range $i, $v := .A}}{{$i}}{{$v}}{{$v.X}}{{end}}{{range .B}}{{.}}{{else}}-{{end}}",
    '{{len .A}}{{index .A 0}}{{index .A "k" 1}}{{print .A .B}}',
    "{{.A | eq .B}}{{$x := .A}}{{$x}}",
]

_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([10**9, 10**18, -(10**12)])
    | st.floats()
    | st.text(max_size=8)
)
_json = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
_params = st.dictionaries(
    st.sampled_from(["A", "B", "C", "D", "X", "k"]) | st.text(max_size=4), _json
)


@settings(max_examples=200, deadline=None)
@given(params=_params)
def test_rendering_never_raises_on_any_parameter_map(params: dict[str, Any]) -> None:
    for source in TEMPLATES:
        assert isinstance(render(source, params), str)


@settings(max_examples=100, deadline=None)
@given(text=st.text().filter(lambda t: "{{" not in t), params=_params)
def test_text_without_actions_is_unchanged(text: str, params: dict[str, Any]) -> None:
    assert render(text, params) == text


def test_huge_numbers_neither_raise_nor_run_away() -> None:
    huge = 10**5000  # past Python's int -> str digit limit
    assert render("{{.A}}", {"A": huge}) == hex(huge)
    assert render("{{range .A}}x{{else}}none{{end}}", {"A": 10**18}) == "none"
