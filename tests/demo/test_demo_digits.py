"""The demo's data handling: what clients send the transformer, as the classifiers' 64 features;
the sample files in examples/data; and the text the demo prints once Ready."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlservice.demo import digits, png
from mlservice.demo.instructions import READY_PREFIX, Addresses, announcement
from mlservice.errors import InvalidInput
from mlservice.server.types import InferRequest, RequestInput
from tests.support.paths import EXAMPLES

DATA = EXAMPLES / "data"
THREE = digits.sample(3)


def test_the_committed_samples_are_the_digits_data() -> None:
    for name, content in digits.sample_files(3).items():
        assert (DATA / name).read_bytes() == content, (
            f"examples/data/{name} differs from mlservice.demo.digits.sample_files(3); "
            "rewrite it from there"
        )


def test_every_json_shape_gives_the_same_row() -> None:
    row = THREE.reshape(1, 64)
    image = THREE.tolist()
    for payload in (
        image,
        [image],
        {"instances": [image]},
        {"instances": [THREE.reshape(64).tolist()]},
        THREE.reshape(64).tolist(),
    ):
        assert np.array_equal(digits.rows_of(payload), row)
    tensor = RequestInput("image", "FP64", [2, 8, 8], np.stack([THREE, THREE]))
    assert np.array_equal(digits.rows_of(InferRequest(inputs=[tensor])), np.vstack([row, row]))


def test_a_png_of_the_digit_gives_its_row() -> None:
    row = digits.rows_of(digits.sample_png(3))
    assert np.allclose(row, THREE.reshape(1, 64), atol=16 / 255)


def test_a_larger_image_averages_down_and_dark_ink_is_inverted() -> None:
    levels = THREE / digits.INK * 255.0
    big = np.kron(levels, np.ones((5, 5)))  # 40x40, every cell a 5x5 block
    assert np.allclose(digits.image_row(big), THREE.reshape(64))
    assert np.allclose(digits.image_row(255.0 - big), THREE.reshape(64))
    odd = np.kron(levels, np.ones((3, 3)))[:, :-1]  # 24x23: cells overlap pixel edges
    assert digits.image_row(odd).shape == (64,)
    assert np.allclose(digits._area(23).sum(axis=0), 8 / 23)  # every pixel counted once


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"inputs": []}, '"instances"'),
        ([[1, 2], [3, 4]], r"shape \[2, 2\]"),
        ({"instances": [[[99] * 8] * 8]}, "values from 99 to 99"),
        ({"instances": ["a"]}, "numeric array"),
        (b"not an image", "not a PNG"),
        (InferRequest(inputs=[]), "no inputs"),
    ],
)
def test_bad_payloads_are_refused_with_the_reason(payload: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        digits.rows_of(payload)


def test_the_ready_text_has_three_commands_on_the_gateway() -> None:
    addresses = Addresses(
        gateway="http://127.0.0.1:9999",
        domain="localhost",
        service_url="http://digits.default.localhost:9999",
    )
    text = announcement(
        addresses,
        service="digits",
        namespace="default",
        data=Path("examples/data"),
        request_log=Path("/home/me/.mlservice/logs/requests"),
        mls="mls",
    )
    lines = text.splitlines()
    ready = next(line for line in lines if line.startswith(READY_PREFIX))
    assert ready.endswith("http://digits.default.localhost:9999")
    commands = [line.strip() for line in lines if line.startswith("  curl ")]
    assert commands == [
        'curl -s -T examples/data/3.png -H "Host: digits.default.localhost" '
        "http://127.0.0.1:9999/v1/models/digits:predict",
        'curl -s -d @examples/data/3-8x8.json -H "Host: digits.default.localhost" '
        "http://127.0.0.1:9999/v2/models/digits/infer",
        'curl -s -d @examples/data/3-row.json -H "Host: digits-predict-v2.default.localhost" '
        "http://127.0.0.1:9999/v1/models/digits:predict",
    ]
    assert "Request log (one CloudEvent a line): /home/me/.mlservice/logs/requests" in lines
    assert "  mls logs digits --requests" in lines


def test_sample_bodies_are_what_the_protocols_expect() -> None:
    v2 = json.loads((DATA / "3-8x8.json").read_text())["inputs"][0]
    assert v2["shape"] == [1, 8, 8]
    assert np.array_equal(np.asarray(v2["data"]), THREE)
    assert png.decode_grey((DATA / "3.png").read_bytes()).shape == (8, 8)
