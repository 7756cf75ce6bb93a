"""`ts.torch_handler.text_classifier`: one text in (the first of a batch, as in TorchServe),
`[{label: probability}]` out, from a model called as `model(token_ids, offsets)` (an
EmbeddingBag text classifier)."""

from __future__ import annotations

from typing import Any

from ..handler_utils.text_utils import ngrams_iterator
from ..utils.util import map_class_to_label
from .text_handler import TextHandler


class TextClassifier(TextHandler):
    ngrams = 2

    def preprocess(self, data: list[Any]) -> Any:
        import torch

        line = data[0]
        text = line.get("data") or line.get("body")
        if isinstance(text, bytes | bytearray):
            text = text.decode("utf-8")
        text = self._remove_html_tags(str(text))
        text = text.lower()
        text = self._expand_contractions(text)
        text = self._remove_accented_characters(text)
        text = self._remove_punctuation(text)
        tokens = self._tokenize(text)
        ids = [self._token_id(token) for token in ngrams_iterator(tokens, self.ngrams)]
        return torch.as_tensor(ids, dtype=torch.long, device=self.device), tokens

    def _token_id(self, token: str) -> int:
        vocab = self.source_vocab
        if isinstance(vocab, dict):  # a plain {token: id}, with "<unk>" (else 0) for the rest
            found: Any = vocab.get(token, vocab.get("<unk>", 0))
            return int(found)
        return int(vocab[token])  # a torchtext Vocab answers its default index itself

    def inference(self, data: Any, *args: Any, **kwargs: Any) -> Any:
        import torch

        token_ids, _ = data
        offsets = torch.as_tensor([0], device=self.device)
        return super().inference(token_ids, offsets)

    def postprocess(self, data: Any) -> Any:
        import torch

        return map_class_to_label(torch.softmax(data, dim=-1).tolist(), self.mapping)
