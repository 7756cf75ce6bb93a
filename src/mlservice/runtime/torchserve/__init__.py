"""The real TorchServe (Java frontend, PyPI `torchserve`) as a runtime, behind our V1/V2 adapter.

`launch.py` starts `torchserve --foreground` on loopback ports of its own, with a
`config.properties` written from the model store's (`properties.py`), and serves the replica's
port with `adapter.py`, which plays the role of KServe's TorchServe wrapper: KServe V1 and V2
bodies become TorchServe `/predictions/{model}` calls, TorchServe's own API passes through.
Native `.mar` serving (`mls serve --format torchserve`) needs none of this, nor a JVM.
"""
