"""Our `ts` helpers answer as TorchServe's own do (compared where TorchServe is installed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlservice.server.formats.torchserve.ts_compat.handler_utils import text_utils
from mlservice.server.formats.torchserve.ts_compat.utils import util

TEXTS = [
    "Hello, World! It's (really) a <br />test.",
    'She said: "no; never"?',
    "  spaces   and\ttabs  ",
]


@pytest.mark.parametrize("text", TEXTS)
def test_tokenizer_and_ngrams_match_torchserve(text: str) -> None:
    theirs = pytest.importorskip("ts.handler_utils.text_utils")
    tokens = text_utils.get_tokenizer("basic_english")(text)
    assert tokens == theirs.get_tokenizer("basic_english")(text)
    assert list(text_utils.ngrams_iterator(tokens, 3)) == list(theirs.ngrams_iterator(tokens, 3))


@pytest.mark.parametrize(
    "document",
    [
        {"0": "tench", "1": ["n01", "goldfish"]},
        {"object_type_names": ["cat", "dog"]},
    ],
    ids=["plain-and-imagenet", "object_type_names"],
)
def test_label_mapping_and_class_labels_match_torchserve(document: object, tmp_path: Path) -> None:
    theirs = pytest.importorskip("ts.utils.util")
    path = tmp_path / "index_to_name.json"
    path.write_text(json.dumps(document))
    mapping = util.load_label_mapping(str(path))
    assert mapping == theirs.load_label_mapping(str(path))
    probs, classes = [[0.7, 0.2], [0.6, 0.4]], [[1, 0], [0, 1]]
    ours = util.map_class_to_label(probs, mapping, classes)
    assert ours == theirs.map_class_to_label(probs, mapping, classes)
    assert util.map_class_to_label(probs) == theirs.map_class_to_label(probs)


def test_missing_label_mapping_is_none(tmp_path: Path) -> None:
    assert util.load_label_mapping(str(tmp_path / "absent.json")) is None
