"""`ts.torch_handler.text_handler`: text clean-up shared by the text handlers, and the
`source_vocab.pt` a text model's tokens are looked up in."""

from __future__ import annotations

import abc
import os
import re
import string
import unicodedata
from typing import Any

from ..handler_utils.text_utils import get_tokenizer
from ..utils.util import CLEANUP_REGEX
from .base_handler import BaseHandler
from .contractions import CONTRACTION_MAP

CONTRACTIONS_PATTERN = re.compile(
    "({})".format("|".join(re.escape(k) for k in CONTRACTION_MAP)), flags=re.IGNORECASE
)


class TextHandler(BaseHandler, abc.ABC):
    def __init__(self) -> None:
        super().__init__()
        self.source_vocab: Any = None
        self.tokenizer = get_tokenizer("basic_english")
        self.input_text: Any = None

    def initialize(self, context: Any) -> None:
        import torch

        super().initialize(context)
        self.initialized = False
        source_vocab = self.manifest["model"].get("sourceVocab")
        path = source_vocab or self.get_source_vocab_path(context)
        self.source_vocab = torch.load(path, weights_only=False)
        self.initialized = True

    def get_source_vocab_path(self, ctx: Any) -> str:
        path = os.path.join(ctx.system_properties.get("model_dir"), "source_vocab.pt")
        if not os.path.isfile(path):
            raise Exception(
                "Missing the source_vocab file. Refer default handler "
                "documentation for details on using text_handler."
            )
        return path

    def _expand_contractions(self, text: str) -> str:
        def expand(match: re.Match[str]) -> str:
            found = match.group(0)
            expanded = CONTRACTION_MAP.get(found) or CONTRACTION_MAP[found.lower()]
            return found[0] + expanded[1:]

        return re.sub("'", "", CONTRACTIONS_PATTERN.sub(expand, text))

    def _remove_accented_characters(self, text: str) -> str:
        return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("utf-8")

    def _remove_html_tags(self, text: str) -> str:
        return CLEANUP_REGEX.sub("", text)

    def _remove_punctuation(self, text: str) -> str:
        return text.translate(str.maketrans("", "", string.punctuation))

    _remove_puncutation = _remove_punctuation  # TorchServe's old spelling, still called

    def _tokenize(self, text: str) -> list[str]:
        return self.tokenizer(text)

    def get_word_token(self, input_tokens: list[str]) -> list[str]:
        return [token.replace("Ġ", "") for token in input_tokens]
