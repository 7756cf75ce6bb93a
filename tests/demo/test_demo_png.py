"""The demo's PNG reader against Pillow's writer, in every colour type and row filter it uses."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from mlservice.demo import png
from mlservice.errors import InvalidInput

RNG = np.random.default_rng(0)


def _pillow(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _gradient(channels: int) -> np.ndarray:
    """Smooth ramps plus noise: Pillow's adaptive filtering picks Sub, Up, Average and Paeth."""
    y, x = np.mgrid[0:37, 0:23]
    base = np.stack([(x * 7 + y * 3 + 40 * c) % 256 for c in range(channels)], axis=-1)
    noisy = base + RNG.integers(0, 3, size=base.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def test_grey_reads_exactly() -> None:
    pixels = _gradient(1)[..., 0]
    assert np.array_equal(png.decode_grey(_pillow(Image.fromarray(pixels, "L"))), pixels)


def test_rgb_reads_as_luma() -> None:
    pixels = _gradient(3)
    decoded = png.decode_grey(_pillow(Image.fromarray(pixels, "RGB")))
    assert np.allclose(decoded, _luma(pixels))


def test_transparency_shows_over_white() -> None:
    pixels = _gradient(4)
    decoded = png.decode_grey(_pillow(Image.fromarray(pixels, "RGBA")))
    alpha = pixels[..., 3] / 255.0
    assert np.allclose(decoded, _luma(pixels[..., :3]) * alpha + 255.0 * (1 - alpha))
    grey_alpha = _gradient(2)
    decoded = png.decode_grey(_pillow(Image.fromarray(grey_alpha, "LA")))
    alpha = grey_alpha[..., 1] / 255.0
    assert np.allclose(decoded, grey_alpha[..., 0] * alpha + 255.0 * (1 - alpha))


@pytest.mark.parametrize("colours", [2, 4, 16, 256])  # Pillow packs them in 1, 2, 4, 8 bits
def test_palette_images_read_through_their_palette(colours: int) -> None:
    rgb = Image.fromarray(_gradient(3), "RGB")
    paletted = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=colours)
    expected = _luma(np.asarray(paletted.convert("RGB")))
    assert np.allclose(png.decode_grey(_pillow(paletted)), expected)


def test_one_bit_and_sixteen_bit_grey() -> None:
    bits = _gradient(1)[..., 0] > 128
    decoded = png.decode_grey(_pillow(Image.fromarray(bits).convert("1")))
    assert np.array_equal(decoded, np.where(bits, 255.0, 0.0))
    wide = (_gradient(1)[..., 0].astype(np.uint16) * 257 + 3).astype(np.uint16)
    decoded = png.decode_grey(_pillow(Image.fromarray(wide)))
    assert np.allclose(decoded, wide / 257.0)


@settings(deadline=None, max_examples=40)
@given(arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12))))
def test_encode_then_decode_is_the_identity(pixels: np.ndarray) -> None:
    assert np.array_equal(png.decode_grey(png.encode_grey(pixels)), pixels)


def test_pillow_reads_what_we_write() -> None:
    pixels = _gradient(1)[..., 0]
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png.encode_grey(pixels)))), pixels)


def _header(depth: int, colour: int, interlace: int = 0) -> bytes:
    body = struct.pack(">IIBBBBB", 2, 2, depth, colour, 0, 0, interlace)
    return png._chunk(b"IHDR", body)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GIF89a...", "not a PNG"),
        (png.SIGNATURE + _header(16, 3), "bit depth 16, colour type 3"),
        (png.SIGNATURE + _header(8, 0, interlace=1), "interlace 1"),
        (png.SIGNATURE + _header(8, 0) + png._chunk(b"IDAT", b"junk"), "does not inflate"),
        (png.SIGNATURE + _header(8, 0) + png._chunk(b"IDAT", zlib.compress(b"\0")), "needs 6"),
        (png.SIGNATURE + b"\0\0\0\x0dIHDR\0\0", "truncated"),
        (png.SIGNATURE + _header(8, 3) + png._chunk(b"IDAT", zlib.compress(bytes(6))), "PLTE"),
        (
            png.SIGNATURE + _header(8, 0) + png._chunk(b"IDAT", zlib.compress(b"\x07\0\0" * 2)),
            "filter 7",
        ),
    ],
)
def test_bad_images_are_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        png.decode_grey(data)
