"""Parsing the subset of Go's text/template that runtimes use into a small tree.

Supported: text, `{{pipeline}}`, `{{if}}`/`{{else if}}`/`{{else}}`/`{{end}}`, `{{with}}` (with
`else with`), `{{range}}` (with `$i, $e :=`, `else`, `break`, `continue`), variables (`$`, `$x :=`,
`$x =`), fields (`.A.B`, `$x.A`, `(pipeline).A`), literals, pipes (`|`), the functions listed in
`FUNCTIONS`, comments `{{/* */}}`, and the trim markers `{{- ` and ` -}}`. Everything else
(`define`, `template`, `block`, methods) is a TemplateError at parse time, as Go reports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from mlservice.errors import TemplateError
from mlservice.runtime.template_lex import Lexer, Token, quote, unescape

# name -> (fewest, most) arguments; None means any number.
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "and": (1, None),
    "or": (1, None),
    "not": (1, 1),
    "eq": (2, None),
    "ne": (2, 2),
    "lt": (2, 2),
    "le": (2, 2),
    "gt": (2, 2),
    "ge": (2, 2),
    "len": (1, 1),
    "index": (1, None),
    "print": (0, None),
}
_UNSUPPORTED = ("define", "template", "block")


# --- tree --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: object


@dataclass(frozen=True)
class Fields:
    """`.A.B` on dot (`base` None), `$x.A` on a variable, or `(pipeline).A`."""

    base: Var | Pipeline | None
    names: tuple[str, ...]


@dataclass(frozen=True)
class Var:
    name: str  # "$" is the data the template was given


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Operand, ...]


Operand = Literal | Fields | Var | Call


@dataclass(frozen=True)
class Pipeline:
    commands: tuple[Operand, ...]  # each takes the previous one's value as its last argument
    declare: tuple[str, ...] = ()
    assign: bool = False  # `$x = ...` rather than `$x := ...`


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Action:
    pipe: Pipeline


@dataclass(frozen=True)
class Branches:
    """`if` or `with` and its `else if`/`else with` chain; `keyword` tells which."""

    keyword: str
    arms: tuple[tuple[Pipeline, tuple[Node, ...]], ...]
    otherwise: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Range:
    pipe: Pipeline
    body: tuple[Node, ...]
    otherwise: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Jump:
    keyword: str  # "break" or "continue"


Node = Text | Action | Branches | Range | Jump


# --- parsing -----------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def parse(source: str) -> tuple[Node, ...]:
    """The tree of `source`; raises TemplateError naming the template and the problem."""
    return _Parser(source).run()


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.items = Lexer(source).run()
        self.pos = 0
        self.loops = 0

    def fail(self, what: str) -> TemplateError:
        return TemplateError(f"template {quote(self.source)}: {what}.")

    def run(self) -> tuple[Node, ...]:
        nodes, stop, _ = self._list()
        if stop:
            raise self.fail(f"unexpected {{{{{stop}}}}}")
        return nodes

    def _list(self) -> tuple[tuple[Node, ...], str, list[Token]]:
        """Nodes up to an `{{end}}` or `{{else ...}}` (returned with what follows it) or EOF."""
        nodes: list[Node] = []
        while self.pos < len(self.items):
            item = self.items[self.pos]
            self.pos += 1
            if isinstance(item, str):
                nodes.append(Text(item))
                continue
            head = item[0].text if item and item[0].kind == "ident" else ""
            if head in ("end", "else"):
                return tuple(nodes), head, item[1:]
            nodes.append(self._node(head, item))
        return tuple(nodes), "", []

    def _node(self, head: str, tokens: list[Token]) -> Node:
        if head in ("if", "with"):
            return self._branches(head, tokens[1:])
        if head == "range":
            return self._range(tokens[1:])
        if head in ("break", "continue"):
            if not self.loops or len(tokens) > 1:
                raise self.fail(f"{{{{{head}}}}} outside a range")
            return Jump(head)
        if head in _UNSUPPORTED:
            raise self.fail(f"{{{{{head}}}}} is not supported")
        if not tokens:
            raise self.fail("empty action {{}}")
        return Action(self._pipeline(tokens, declarations=True))

    def _branches(self, keyword: str, tokens: list[Token]) -> Branches:
        pipe = self._pipeline(tokens, declarations=True)
        body, stop, rest = self._list()
        if not stop:
            raise self.fail(f"{{{{{keyword}}}}} without {{{{end}}}}")
        if stop == "end" or not rest:
            otherwise = self._else_body(keyword) if stop == "else" else ()
            return Branches(keyword, ((pipe, body),), otherwise)
        if rest[0].kind != "ident" or rest[0].text != keyword:
            raise self.fail(f"{{{{else {rest[0].text}}}}} inside {{{{{keyword}}}}}")
        chained = self._branches(keyword, rest[1:])
        return Branches(keyword, ((pipe, body), *chained.arms), chained.otherwise)

    def _else_body(self, keyword: str) -> tuple[Node, ...]:
        body, stop, rest = self._list()
        if stop != "end" or rest:
            raise self.fail(f"{{{{{keyword}}}}} needs {{{{end}}}} after its {{{{else}}}}")
        return body

    def _range(self, tokens: list[Token]) -> Range:
        pipe = self._pipeline(tokens, declarations=True, pair=True)
        self.loops += 1
        body, stop, rest = self._list()
        self.loops -= 1
        if not stop:
            raise self.fail("{{range}} without {{end}}")
        if rest:
            raise self.fail(f"{{{{else {rest[0].text}}}}} is not allowed in {{{{range}}}}")
        otherwise = self._else_body("range") if stop == "else" else ()
        return Range(pipe, body, otherwise)

    def _pipeline(self, tokens: list[Token], *, declarations: bool, pair: bool = False) -> Pipeline:
        declare, assign, tokens = self._declarations(tokens, pair=pair)
        if declare and not declarations:
            raise self.fail("variables may not be declared inside parentheses")
        commands: list[Operand] = []
        for index, part in enumerate(_split(tokens, "pipe")):
            if not part:
                raise self.fail("missing command in a pipeline")
            commands.append(self._command(part, piped=index > 0))
        if not commands:
            raise self.fail("missing value in an action")
        return Pipeline(tuple(commands), declare, assign)

    def _declarations(
        self, tokens: list[Token], *, pair: bool
    ) -> tuple[tuple[str, ...], bool, list[Token]]:
        kinds = [t.kind for t in tokens[:4]]
        if kinds[:2] in (["var", "declare"], ["var", "assign"]):
            return (tokens[0].text,), kinds[1] == "assign", tokens[2:]
        if pair and kinds == ["var", "comma", "var", "declare"]:
            return (tokens[0].text, tokens[2].text), False, tokens[4:]
        return (), False, tokens

    def _command(self, tokens: list[Token], *, piped: bool) -> Operand:
        head = tokens[0]
        is_call = head.kind == "ident" and head.text in FUNCTIONS
        operands, pos = [], 1 if is_call else 0
        while pos < len(tokens):
            operand, pos = self._operand(tokens, pos)
            operands.append(operand)
        if is_call:
            self._check_arity(head.text, len(operands) + piped)
            return Call(head.text, tuple(operands))
        if len(operands) > 1 or piped:
            raise self.fail(f"{head.text} is not a function and takes no arguments")
        return operands[0]

    def _check_arity(self, func: str, count: int) -> None:
        fewest, most = FUNCTIONS[func]
        if count < fewest or (most is not None and count > most):
            want = f"{fewest}" if fewest == most else f"at least {fewest}"
            raise self.fail(f"{func} takes {want} argument(s), got {count}")

    def _operand(self, tokens: list[Token], pos: int) -> tuple[Operand, int]:
        token = tokens[pos]
        if token.kind == "lparen":
            end = _closing(tokens, pos)
            if end < 0:
                raise self.fail("unclosed parenthesis")
            inner = self._pipeline(tokens[pos + 1 : end], declarations=False)
            if end + 1 < len(tokens) and tokens[end + 1].kind == "field":
                return Fields(inner, _names(tokens[end + 1].text)), end + 2
            return Fields(inner, ()), end + 1
        if token.kind == "var" and pos + 1 < len(tokens) and tokens[pos + 1].kind == "field":
            return Fields(Var(token.text), _names(tokens[pos + 1].text)), pos + 2
        return self._term(token), pos + 1

    def _term(self, token: Token) -> Operand:
        kind, text = token.kind, token.text
        if kind == "field":
            return Fields(None, _names(text))
        if kind == "dot":
            return Fields(None, ())
        if kind == "var":
            return Var(text)
        if kind in ("string", "char"):
            body = unescape(text[1:-1], self.source)
            if kind == "string":
                return Literal(body)
            if len(body) != 1:
                raise self.fail(f"bad character constant {text}")
            return Literal(ord(body))
        if kind == "raw":
            return Literal(text[1:-1])
        if kind == "number":
            return Literal(self._number(text))
        if kind == "ident" and text in ("true", "false", "nil"):
            return Literal({"true": True, "false": False, "nil": None}[text])
        if kind == "ident" and text in FUNCTIONS:
            raise self.fail(f"function {text} used as a value; wrap the call in parentheses")
        if kind == "ident":
            raise self.fail(f'function "{text}" not defined')
        raise self.fail(f"unexpected {text!r}")

    def _number(self, text: str) -> int | float:
        clean = text.replace("_", "")
        try:
            if clean.lstrip("+-").lower().startswith("0x"):
                return int(clean, 16)
            if any(c in clean for c in ".eE"):
                return float(clean)
            return int(clean)
        except ValueError:
            raise self.fail(f"bad number {text}") from None


def _names(field: str) -> tuple[str, ...]:
    return tuple(field.split(".")[1:])


def _split(tokens: list[Token], kind: str) -> list[list[Token]]:
    """`tokens` cut at each `kind` token outside parentheses."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        depth += {"lparen": 1, "rparen": -1}.get(token.kind, 0)
        if token.kind == kind and depth == 0:
            parts.append([])
        else:
            parts[-1].append(token)
    return parts if tokens else []


def _closing(tokens: list[Token], start: int) -> int:
    depth = 0
    for index in range(start, len(tokens)):
        depth += {"lparen": 1, "rparen": -1}.get(tokens[index].kind, 0)
        if depth == 0:
            return index
    return -1
