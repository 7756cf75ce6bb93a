"""The TorchServe examples' model stores, built at test time, and the Java requirement.

`model_stores(dest)` runs examples/torchserve/make_models.py (fixed seeds, ~5 s: trains the
digits CNN and the sentiment model, packs both with the real torch-model-archiver): the .mar
files are generated, never committed. The real TorchServe needs `java` and `torchserve`: off CI
a machine without them skips those tests, naming what is missing; on CI (`CI=true`) they fail,
as tests/support/kubectl.py does for kubectl (`make test` installs Java when it can).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO

MAKE_MODELS = REPO / "examples" / "torchserve" / "make_models.py"
DIGIT_PNG = REPO / "examples" / "data" / "3.png"
_BIN = Path(sys.executable).parent


def _missing() -> list[str]:
    path = os.pathsep.join([str(_BIN), os.environ.get("PATH", "")])
    return [name for name in ("java", "torchserve") if shutil.which(name, path=path) is None]


MISSING = _missing()
WHY = (
    f"the real TorchServe needs {' and '.join(MISSING)} on PATH (Java: Debian's "
    "openjdk-17-jre-headless, which `make test` installs when run as root; torchserve: the "
    "`torchserve` extra)"
)


def needs_java() -> pytest.MarkDecorator:
    """A mark for tests that run the real TorchServe: skipped without it, except on CI."""
    return pytest.mark.skipif(bool(MISSING) and not os.environ.get("CI"), reason=WHY)


def model_stores(dest: Path) -> Path:
    """`dest/digits` and `dest/sentiment`, each `config/config.properties` + `model-store/`."""
    subprocess.run(
        [sys.executable, str(MAKE_MODELS), str(dest)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return dest
