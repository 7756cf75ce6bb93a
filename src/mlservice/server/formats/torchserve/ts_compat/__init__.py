"""A TorchServe-compatible `ts` package for handlers, for when TorchServe is not installed.

`mls serve` makes this importable as `ts` (see `torchserve/imports.py`), so a handler's
`from ts.torch_handler.base_handler import BaseHandler` works without PyPI `torchserve`. It
holds what handlers import: `ts.context`, `ts.torch_handler.{base_handler, vision_handler,
image_classifier, text_handler, text_classifier}`, `ts.utils.util` and
`ts.handler_utils.{timer, text_utils}`; torch is imported when a handler first needs it, so a
pure-Python handler pays nothing for it. Written from TorchServe 0.12's documented behaviour.
"""

__version__ = "0.12.0"
