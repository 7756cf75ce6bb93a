"""`python -m mlservice.runtime.builtin.torchserve`: the real TorchServe behind our adapter, as
runtime `torchserve-java` (and `kserve-torchserve-java`, SimpleMLService's Java path) runs it.
See `mlservice.runtime.torchserve.launch`."""

from __future__ import annotations

import sys

from mlservice.runtime.torchserve.launch import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
