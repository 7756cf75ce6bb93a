"""Executing a parsed Go template over plain data, the way Go's text/template would.

Execution never raises on data: a missing key, a field of a non-map, or a comparison of unlike
values is empty or false rather than an error, so any `model.parameters` map renders.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from functools import partial
from typing import Any

from mlservice.runtime.template_parse import (
    Action,
    Branches,
    Call,
    Jump,
    Literal,
    Node,
    Operand,
    Pipeline,
    Range,
    Text,
    Var,
    parse,
)


def render(source: str, data: Mapping[str, Any]) -> str:
    """`source` executed with `data` as dot; raises TemplateError only if `source` is malformed."""
    if "{{" not in source:
        return source
    out: list[str] = []
    _Run(data).nodes(parse(source), data, out)
    return "".join(out)


def truth(value: Any) -> bool:
    """Go's notion of a true value: not nil, false, zero, or empty."""
    return bool(value) if value is not None else False


def show(value: Any) -> str:
    """A value as Go's fmt prints it with %v; nil (a missing key) prints as nothing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _show_float(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{show(value[k])}" for k in sorted(value, key=str)) + "]"
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:  # past Python's digit limit for int -> str; Go ints never get there
            return hex(value)
    return str(value)


def _show_float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign, digits, exp = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    assert isinstance(exp, int)
    point = len(text) + exp  # position of the decimal point in `text`
    # %v is %g with the shortest digits, which switches to exponent form below 1e-4 and from 1e6.
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        body = f"{mantissa}e{point - 1:+03d}"
    elif point <= 0:
        body = "0." + "0" * -point + text
    elif point >= len(text):
        body = text + "0" * (point - len(text))
    else:
        body = text[:point] + "." + text[point:]
    return ("-" if sign else "") + body


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Run:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.scopes: list[dict[str, Any]] = [{"$": root}]

    def nodes(self, nodes: tuple[Node, ...], dot: Any, out: list[str]) -> None:
        for node in nodes:
            self.node(node, dot, out)

    def node(self, node: Node, dot: Any, out: list[str]) -> None:
        if isinstance(node, Text):
            out.append(node.text)
        elif isinstance(node, Action):
            value = self.pipeline(node.pipe, dot)
            if not node.pipe.declare:
                out.append(show(value))
        elif isinstance(node, Branches):
            self.scoped(lambda: self.branches(node, dot, out))
        elif isinstance(node, Range):
            self.scoped(lambda: self.range(node, dot, out))
        elif isinstance(node, Jump):
            raise _Break() if node.keyword == "break" else _Continue()

    def scoped(self, body: Callable[[], None]) -> None:
        """Variables declared in a control structure live until its {{end}}, as in Go."""
        self.scopes.append({})
        try:
            body()
        finally:
            self.scopes.pop()

    def branches(self, node: Branches, dot: Any, out: list[str]) -> None:
        for pipe, body in node.arms:
            value = self.pipeline(pipe, dot)
            if truth(value):
                self.nodes(body, value if node.keyword == "with" else dot, out)
                return
        self.nodes(node.otherwise, dot, out)

    def range(self, node: Range, dot: Any, out: list[str]) -> None:
        items = list(_items(self.pipeline(node.pipe, dot, bind=False)))
        if not items:
            self.nodes(node.otherwise, dot, out)
            return
        names = node.pipe.declare
        for key, item in items:
            if len(names) == 2:
                self.scopes[-1][names[0]], self.scopes[-1][names[1]] = key, item
            elif names:
                self.scopes[-1][names[0]] = item
            try:
                self.nodes(node.body, item, out)
            except _Continue:
                continue
            except _Break:
                break

    def pipeline(self, pipe: Pipeline, dot: Any, *, bind: bool = True) -> Any:
        value: Any = None
        for index, command in enumerate(pipe.commands):
            piped = (value,) if index else ()
            value = self.operand(command, dot, piped)
        if bind and pipe.declare:
            self.bind(pipe.declare[0], value, assign=pipe.assign)
        return value

    def bind(self, name: str, value: Any, *, assign: bool) -> None:
        if assign:
            for scope in reversed(self.scopes):
                if name in scope:
                    scope[name] = value
                    return
        self.scopes[-1][name] = value

    def variable(self, name: str) -> Any:
        return next((s[name] for s in reversed(self.scopes) if name in s), None)

    def operand(self, operand: Operand, dot: Any, piped: tuple[Any, ...] = ()) -> Any:
        if isinstance(operand, Literal):
            return operand.value
        if isinstance(operand, Var):
            return self.variable(operand.name)
        if isinstance(operand, Call):
            return self.call(operand, dot, piped)
        base = dot
        if isinstance(operand.base, Var):
            base = self.variable(operand.base.name)
        elif isinstance(operand.base, Pipeline):
            base = self.pipeline(operand.base, dot)
        return _fields(base, operand.names)

    def call(self, call: Call, dot: Any, piped: tuple[Any, ...]) -> Any:
        thunks: list[Callable[[], Any]] = [partial(self.operand, a, dot) for a in call.args]
        thunks += [partial(_same, v) for v in piped]
        if call.func in ("and", "or"):
            return _and_or(call.func == "and", thunks)
        return FUNCTIONS[call.func]([t() for t in thunks])


def _same(value: Any) -> Any:
    return value


def _items(value: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(value, list | tuple):
        yield from enumerate(value)
    elif isinstance(value, dict):
        yield from ((k, value[k]) for k in sorted(value, key=str))
    # Anything else ranges as empty. Go 1.22's range over an integer is left out on purpose:
    # a large number in model.parameters would make rendering run away.


def _fields(value: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        value = value.get(name) if isinstance(value, dict) else None
    return value


def _and_or(want_and: bool, thunks: list[Callable[[], Any]]) -> Any:
    value: Any = None
    for thunk in thunks:
        value = thunk()
        if truth(value) != want_and:
            return value
    return value


def _basic(value: Any) -> Any:
    """Comparable form: nil compares as "" (a missing key of a string map); ints as numbers."""
    return "" if value is None else value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _eq(args: list[Any]) -> bool:
    first = _basic(args[0])
    return any(
        _kind(first) == _kind(_basic(other)) and first == _basic(other) for other in args[1:]
    )


def _less(args: list[Any], *, strict: bool) -> bool:
    a, b = _basic(args[0]), _basic(args[1])
    if _kind(a) != _kind(b) or _kind(a) not in ("number", "str"):
        return False
    return bool(a < b) if strict else bool(a <= b)


def _index(args: list[Any]) -> Any:
    value = args[0]
    for key in args[1:]:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list | str) and isinstance(key, int) and 0 <= key < len(value):
            value = value[key]
        else:
            return None
    return value


def _print(args: list[Any]) -> str:
    # fmt.Sprint puts a space between operands when neither side is a string.
    out = ""
    for index, arg in enumerate(args):
        if index and not isinstance(arg, str) and not isinstance(args[index - 1], str):
            out += " "
        out += show(arg)
    return out


FUNCTIONS: dict[str, Callable[[list[Any]], Any]] = {
    "not": lambda a: not truth(a[0]),
    "eq": _eq,
    "ne": lambda a: not _eq(a),
    "lt": lambda a: _less(a, strict=True),
    "le": lambda a: _less(a, strict=False),
    "gt": lambda a: _less([a[1], a[0]], strict=True),
    "ge": lambda a: _less([a[1], a[0]], strict=False),
    "len": lambda a: len(a[0]) if isinstance(a[0], str | list | tuple | dict) else 0,
    "index": _index,
    "print": _print,
}
