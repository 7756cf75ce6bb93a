"""The commands the docs show are the real ones: every `mls ...` in a code block of docs/*.md,
README.md and examples/ (their `# Try:` lines) names subcommands and flags that the real
`mls ... --help` lists; every flag in the CLI reference's tables too; and every full manifest
in the docs passes validation."""

from __future__ import annotations

import functools
import re

import pytest
import yaml

from mlservice.resources import validate_object
from tests.docs.docs_lib import DOCS, SHELL, blocks, mls_invocations, shell_lines
from tests.support.cli import mls
from tests.support.paths import REPO

_FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
_PANEL_ROW = re.compile(r"^│ (\w[\w-]*)\s{2,}")


@functools.cache
def help_text(path: tuple[str, ...]) -> str:
    """`mls PATH... --help` as a user sees it (wide, so nothing wraps)."""
    done = mls(*path, "--help", env={"COLUMNS": "200", "TERM": "dumb"})
    assert done.returncode == 0, f"mls {' '.join(path)} --help failed: {done.stderr}"
    return done.stdout


def subcommands(path: tuple[str, ...]) -> set[str]:
    """The names in the help's Commands panel."""
    text = help_text(path)
    if "Commands" not in text:
        return set()
    panel = text.split("Commands", 1)[1].split("╰", 1)[0]
    return {m[1] for line in panel.splitlines() if (m := _PANEL_ROW.match(line.strip()))}


def check(argv: list[str], *, where: str) -> None:
    """Subcommands exist level by level; each flag is one the deepest command lists."""
    path: tuple[str, ...] = ()
    words = list(argv)
    while words and not words[0].startswith("-") and subcommands(path):
        assert words[0] in subcommands(path), (
            f"{where}: `mls {' '.join(argv)}`: {words[0]!r} is not a command of "
            f"`mls {' '.join(path)}` ({', '.join(sorted(subcommands(path)))})"
        )
        path += (words.pop(0),)
    known = set(_FLAG.findall(help_text(path)))
    for word in words:
        if word == "--":
            break
        flag = word.split("=", 1)[0]
        if _FLAG.fullmatch(flag):
            assert flag in known, (
                f"{where}: `mls {' '.join(argv)}`: {flag} is not an option of "
                f"`mls {' '.join(path)}` ({', '.join(sorted(known))})"
            )


def _doc_invocations() -> list[tuple[str, list[str]]]:
    found = []
    for doc in DOCS:
        for block in blocks(doc):
            if block.language in SHELL:
                for line in shell_lines(block):
                    found += [(block.where, argv) for argv in mls_invocations(line)]
    for example in sorted((REPO / "examples").rglob("*.yaml")):
        for line in example.read_text().splitlines():
            if line.startswith("#   mls "):
                rel = example.relative_to(REPO)
                found += [(str(rel), argv) for argv in mls_invocations(line[1:])]
    return found


INVOCATIONS = _doc_invocations()


def test_the_docs_show_many_commands() -> None:
    commands = {argv[0] for _, argv in INVOCATIONS if argv}
    assert {"up", "apply", "get", "describe", "delete", "wait", "logs", "volume", "serve"} <= (
        commands
    )


@pytest.mark.parametrize(
    ("where", "argv"), INVOCATIONS, ids=[f"{w}:{' '.join(a)}" for w, a in INVOCATIONS]
)
def test_command_exists_with_its_flags(where: str, argv: list[str]) -> None:
    check(argv, where=where)


def test_a_wrong_flag_or_command_is_caught() -> None:
    with pytest.raises(AssertionError, match="--colour is not an option"):
        check(["get", "mlsvc", "--colour"], where="test")
    with pytest.raises(AssertionError, match="'predicts' is not a command"):
        check(["predicts", "digits"], where="test")
    with pytest.raises(AssertionError, match="'rm' is not a command of `mls volume`"):
        check(["volume", "rm", "x"], where="test")


def _reference_tables() -> list[tuple[str, str]]:
    """(`mls X` section, flag) for every flag in the first column of docs/cli.md's tables."""
    found, section = [], ""
    for line in (REPO / "docs" / "cli.md").read_text().splitlines():
        if line.startswith("## mls "):
            section = line.removeprefix("## ").strip()
        elif line.startswith("| `-") and section:
            first_cell = line.split("|")[1]
            found += [(section, flag) for flag in _FLAG.findall(first_cell)]
    return found


@pytest.mark.parametrize(("section", "flag"), _reference_tables())
def test_cli_reference_tables_list_real_flags(section: str, flag: str) -> None:
    check([*section.split()[1:], flag], where=f"docs/cli.md {section}")


def _manifests() -> list[tuple[str, dict[str, object]]]:
    found = []
    for doc in DOCS:
        for block in blocks(doc):
            if block.language == "yaml" and block.text.startswith("apiVersion:"):
                found.append((block.where, yaml.safe_load(block.text)))
    return found


@pytest.mark.parametrize(("where", "manifest"), _manifests(), ids=lambda v: str(v)[:40])
def test_manifests_in_the_docs_are_valid(where: str, manifest: dict[str, object]) -> None:
    validate_object(manifest)
