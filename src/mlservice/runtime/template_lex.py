"""Lexing a Go template: raw text between actions, and each action's tokens.

Trim markers (`{{- ` and ` -}}`) and comments (`{{/* */}}`) are handled here, so the parser sees
only text and tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlservice.errors import TemplateError

_TOKEN = re.compile(
    r"""
    (?P<trimclose>\s+-\}\})
    |(?P<space>\s+)
    |(?P<close>\}\})
    |(?P<string>"(?:[^"\\\n]|\\.)*")
    |(?P<raw>`[^`]*`)
    |(?P<char>'(?:[^'\\\n]|\\.)+')
    |(?P<declare>:=)
    |(?P<assign>=)
    |(?P<number>[+-]?(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?))
    |(?P<field>(?:\.[A-Za-z_]\w*)+)
    |(?P<dot>\.)
    |(?P<var>\$\w*)
    |(?P<ident>[A-Za-z_]\w*)
    |(?P<lparen>\()
    |(?P<rparen>\))
    |(?P<pipe>\|)
    |(?P<comma>,)
    """,
    re.VERBOSE,
)
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


Item = str | list[Token]  # raw text between actions, or one action's tokens


class Lexer:
    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[Item] = []
        self.pos = 0

    def fail(self, what: str) -> TemplateError:
        return TemplateError(f"template {quote(self.source)}: {what} at character {self.pos}.")

    def run(self) -> list[Item]:
        trim_next = False
        while self.pos < len(self.source):
            start = self.source.find("{{", self.pos)
            text = self.source[self.pos : start if start >= 0 else len(self.source)]
            if trim_next:
                text = text.lstrip()
            if start < 0:
                self._text(text)
                break
            self.pos = start + 2
            if self.source.startswith(("- ", "-\t", "-\n", "-\r"), self.pos):
                text = text.rstrip()
                self.pos += 1
            self._text(text)
            trim_next = self._action()
        return self.items

    def _text(self, text: str) -> None:
        if text:
            self.items.append(text)

    def _action(self) -> bool:
        """Lex one action after its `{{`; True if it ends with the ` -}}` trim marker."""
        rest = self.source[self.pos :].lstrip()
        if rest.startswith("/*"):
            return self._comment()
        tokens: list[Token] = []
        while self.pos < len(self.source):
            match = _TOKEN.match(self.source, self.pos)
            if match is None:
                raise self.fail(f"unexpected {self.source[self.pos]!r} in action")
            self.pos = match.end()
            kind = match.lastgroup or ""
            if kind in ("close", "trimclose"):
                self.items.append(tokens)
                return kind == "trimclose"
            if kind != "space":
                tokens.append(Token(kind, match.group()))
        raise self.fail("unclosed action")

    def _comment(self) -> bool:
        end = self.source.find("*/", self.pos)
        if end < 0:
            raise self.fail("unclosed comment")
        self.pos = end + 2
        for closer, trims in ((" -}}", True), ("}}", False)):
            if self.source.startswith(closer, self.pos):
                self.pos += len(closer)
                return trims
        raise self.fail("comment ends before the closing }}")


def quote(source: str) -> str:
    return repr(source if len(source) <= 80 else source[:77] + "...")


def unescape(body: str, source: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[code]
        if code[0] in "xuU":
            return chr(int(code[1:], 16))
        if code[0] in "01234567" and len(code) == 3:
            return chr(int(code, 8))
        raise TemplateError(f"template {quote(source)}: unknown escape \\{code} in a string.")

    return _ESCAPE.sub(one, body)
