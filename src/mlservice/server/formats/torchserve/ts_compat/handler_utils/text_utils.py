"""`ts.handler_utils.text_utils`: torchtext's `basic_english` tokenizer and n-grams, which
TorchServe's text handlers use."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

# (pattern, replacement): quotes and punctuation split off as tokens, a few dropped.
_RULES = [
    (re.compile(p), r)
    for p, r in (
        (r"\'", " '  "),
        (r"\"", ""),
        (r"\.", " . "),
        (r"<br \/>", " "),
        (r",", " , "),
        (r"\(", " ( "),
        (r"\)", " ) "),
        (r"\!", " ! "),
        (r"\?", " ? "),
        (r"\;", " "),
        (r"\:", " "),
        (r"\s+", " "),
    )
]


def ngrams_iterator(token_list: list[str], ngrams: int) -> Iterator[str]:
    """The tokens, then every n-gram up to `ngrams` joined by spaces."""
    yield from token_list
    for n in range(2, ngrams + 1):
        for gram in zip(*[token_list[i:] for i in range(n)], strict=False):
            yield " ".join(gram)


def _basic_english(line: str) -> list[str]:
    line = line.lower()
    for pattern, replacement in _RULES:
        line = pattern.sub(replacement, line)
    return line.split()


def get_tokenizer(tokenizer: str | None, language: str = "en") -> Callable[[str], list[str]]:
    if tokenizer == "basic_english":
        return _basic_english
    return str.split
