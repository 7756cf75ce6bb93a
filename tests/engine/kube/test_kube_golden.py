"""Every example renders to its golden file in both modes (an error is a golden file too).

A change to the renderer is a reviewed diff of these files: regenerate them with
`MLS_UPDATE_GOLDEN=1 pytest tests/engine/kube/test_kube_golden.py` and read `git diff`.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from mlservice.cli.kube import dump_all
from mlservice.controller.offline import render
from tests.engine.kube.kube_helpers import (
    EXAMPLES,
    GOLDEN,
    MODES,
    RUNTIME_FILES,
    UPDATE,
    documents,
    example_files,
    example_id,
    render_example,
)

CASES = [(path, mode) for path in example_files() for mode in MODES]


def golden_path(path: Path, mode: str) -> Path:
    return GOLDEN / mode / path.relative_to(EXAMPLES)


@pytest.mark.parametrize(
    ("path", "mode"), CASES, ids=[f"{mode}/{example_id(path)}" for path, mode in CASES]
)
def test_each_example_renders_as_its_golden_file(path: Path, mode: str) -> None:
    rendered = render_example(path, mode)
    text = rendered if isinstance(rendered, str) else dump_all(rendered)
    golden = golden_path(path, mode)
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.is_file(), f"no golden file {golden}: run with MLS_UPDATE_GOLDEN=1"
    assert text == golden.read_text()


def test_no_golden_file_is_left_over() -> None:
    wanted = {golden_path(path, mode) for path, mode in CASES}
    assert set(GOLDEN.rglob("*.yaml")) == wanted


def test_the_goldens_cover_both_outcomes() -> None:
    """Standard mode refuses scale to zero; Knative renders the same example."""
    example = EXAMPLES / "mlservice" / "scale-to-zero.yaml"
    refused = golden_path(example, "standard").read_text()
    assert refused.startswith("error: MLService default/scale-to-zero: ")
    assert "spec.releases[0].predictor.minReplicas is 0" in refused
    assert "kind: Configuration" in golden_path(example, "knative").read_text()


@pytest.mark.parametrize("mode", MODES)
def test_the_order_of_the_input_does_not_matter(mode: str) -> None:
    paths = [
        EXAMPLES / "mlservice" / "canary.yaml",
        EXAMPLES / "mlservice" / "transformer.yaml",
        EXAMPLES / "simplemlservice" / "pvc-storage.yaml",
        EXAMPLES / "kserve" / "transformer.yaml",
        EXAMPLES / "secrets" / "s3-secret.yaml",
        EXAMPLES / "volumes" / "tutorial.yaml",
        *RUNTIME_FILES,
    ]
    docs = documents(*paths)
    first = render(docs, mode=mode)  # type: ignore[arg-type]
    shuffled = list(docs)
    random.Random(7).shuffle(shuffled)
    assert render(shuffled, mode=mode) == first  # type: ignore[arg-type]
    assert render(docs, mode=mode) == first  # type: ignore[arg-type]
