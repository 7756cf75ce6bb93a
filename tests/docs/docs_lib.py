"""Reading the user-facing docs: their fenced code blocks, and the `mls` invocations in them."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import REPO

DOCS = sorted([*(REPO / "docs").glob("*.md"), REPO / "README.md", REPO / "examples" / "README.md"])
SHELL = ("", "sh", "bash", "console", "shell")
_FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # where the block's first line is, 1-based
    language: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    found: list[Block] = []
    language: str | None = None
    start, body = 0, []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fence = _FENCE.match(line)
        if fence and language is None:
            language, start, body = fence[1], number + 1, []
        elif line.strip() == "```" and language is not None:
            found.append(Block(path, start, language, "\n".join(body)))
            language = None
        elif language is not None:
            body.append(line)
    return found


def shell_lines(block: Block) -> list[str]:
    """Commands in a shell block: `$ ` prompts stripped, output lines of a console block
    dropped, backslash continuations joined."""
    lines, pending = [], ""
    for raw in block.text.splitlines():
        line = raw.strip()
        if block.language == "console":
            if not line.startswith("$ "):
                continue
            line = line[2:]
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    return [line for line in lines if line and not line.startswith("#")]


def mls_invocations(command_line: str) -> list[list[str]]:
    """Every `mls ...` in a shell line (after `&&`, `|`, `;`, env assignments), as argv
    without the program; `.venv/bin/mls` counts too."""
    found = []
    for segment in re.split(r"&&|\|\||[|;&]", command_line):
        try:
            words = shlex.split(segment, comments=True)
        except ValueError:
            continue
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
            words = words[1:]
        if words and (words[0] == "mls" or words[0].endswith("/mls")):
            found.append(words[1:])
    return found
