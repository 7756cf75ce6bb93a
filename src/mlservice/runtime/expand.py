"""Kubernetes' `$(VAR)` expansion in container env values, command and args.

The rules are the kubelet's: `$(NAME)` becomes NAME's value when NAME is defined and stays as
written otherwise; `$$` is an escaped `$` (so `$$(NAME)` yields the literal `$(NAME)`); a `$`
followed by anything else, or an unterminated `$(`, is kept. Each env value may refer to the env
vars listed before it and to the base environment the engine provides (`PORT`, `MODEL_DIR`, ...);
command and args may refer to all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def expand(text: str, variables: Mapping[str, str]) -> str:
    """`text` with every `$(NAME)` defined in `variables` replaced by its value."""
    if "$" not in text:
        return text
    out: list[str] = []
    pos = 0
    while pos < len(text):
        dollar = text.find("$", pos)
        if dollar < 0 or dollar == len(text) - 1:
            break
        out.append(text[pos:dollar])
        following = text[dollar + 1]
        if following == "$":
            out.append("$")
            pos = dollar + 2
        elif following == "(" and (close := text.find(")", dollar + 2)) >= 0:
            name = text[dollar + 2 : close]
            out.append(variables.get(name, f"$({name})"))
            pos = close + 1
        else:
            # Not a reference (or unterminated): keep the `$` and the character after it.
            out.append(text[dollar : dollar + 2])
            pos = dollar + 2
    out.append(text[pos:])
    return "".join(out)


def expand_env(env: Iterable[tuple[str, str]], base: Mapping[str, str]) -> dict[str, str]:
    """The process environment: `base`, then each `(name, value)` expanded over what precedes it.

    Only names defined earlier in `env` or in `base` are expanded, so a reference to a var
    defined later stays literal, as in Kubernetes.
    """
    result = dict(base)
    defined: dict[str, str] = dict(base)
    for name, value in env:
        expanded = expand(value, defined)
        defined[name] = expanded
        result[name] = expanded
    return result
