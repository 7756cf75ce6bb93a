"""Just enough PNG for the demo: decode an upload to grey levels, encode a grey image.

The demo's transformer takes `curl -T digit.png`; the `make run` install has numpy but not
Pillow, and PNG is zlib plus five row filters, so the format is read here: every colour type
and bit depth, not interlaced (what image editors and Pillow write by default). An interlaced
image is refused with a message that says so.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import numpy as np
import numpy.typing as npt

from mlservice.errors import InvalidInput

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Colour type -> samples per pixel (grey, RGB, palette index, grey + alpha, RGBA), and the
# bit depths the format allows for it.
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
MAX_PIXELS = 4096 * 4096  # a bound on what one upload may inflate to
LUMA = np.array([0.299, 0.587, 0.114])
Grey = npt.NDArray[np.float64]


def decode_grey(data: bytes) -> Grey:
    """The image as grey levels 0-255, shape (height, width)."""
    chunks = _chunks(data)
    header = chunks.get(b"IHDR")
    if header is None or len(header) != 13:
        raise InvalidInput("The PNG has no valid IHDR header chunk.")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth not in DEPTHS.get(colour, ()) or interlace != 0:
        raise InvalidInput(
            f"The PNG has bit depth {depth}, colour type {colour} and interlace {interlace}; "
            "only non-interlaced images are read (or send a JSON 8x8 array)."
        )
    if not 0 < width * height <= MAX_PIXELS:
        raise InvalidInput(f"The PNG is {width}x{height}; at most {MAX_PIXELS} pixels are read.")
    channels = CHANNELS[colour]
    rows = _unfilter(
        chunks.get(b"IDAT", b""),
        height=height,
        stride=(width * channels * depth + 7) // 8,
        bpp=max(1, channels * depth // 8),
    )
    samples = _samples(rows, width=width, depth=depth, channels=channels)
    if colour == 3:
        return _to_grey(_palette(chunks.get(b"PLTE"), samples[..., 0].astype(np.intp)))
    if depth < 8:  # grey levels 0..2^depth-1 spread over 0..255
        samples = samples * (255.0 / (2**depth - 1))
    return _to_grey(samples)


def encode_grey(pixels: npt.NDArray[np.uint8]) -> bytes:
    """A greyscale PNG of a 2-D uint8 array (no filtering: the images here are tiny)."""
    height, width = pixels.shape
    rows = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows))
        + (_chunk(b"IEND", b""))
    )


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _chunks(data: bytes) -> dict[bytes, bytes]:
    """Chunk type -> body; the IDAT chunks are joined, as the format says they form one stream."""
    if not data.startswith(SIGNATURE):
        raise InvalidInput("The body is not a PNG image (no PNG signature).")
    found: dict[bytes, bytes] = {}
    pos = len(SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise InvalidInput(f"The PNG is truncated inside its {kind!r} chunk.")
        found[kind] = found.get(kind, b"") + body if kind == b"IDAT" else body
        pos += 12 + length
        if kind == b"IEND":
            break
    return found


def _unfilter(compressed: bytes, *, height: int, stride: int, bpp: int) -> npt.NDArray[np.uint8]:
    """The raw bytes of each row, (height, stride), filters undone."""
    try:
        raw = zlib.decompress(compressed)
    except zlib.error as exc:
        raise InvalidInput(f"The PNG image data does not inflate: {exc}.") from None
    if len(raw) != height * (stride + 1):
        raise InvalidInput(
            f"The PNG image data holds {len(raw)} bytes; its header needs {height * (stride + 1)}."
        )
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        out[y] = _row(int(rows[y, 0]), rows[y, 1:], previous, bpp)
        previous = out[y]
    return out


def _samples(
    rows: npt.NDArray[np.uint8], *, width: int, depth: int, channels: int
) -> npt.NDArray[np.float64]:
    """(height, width, channels) sample values: 16-bit ones scaled to 0-255, packed 1/2/4-bit
    ones as their integer values."""
    height = len(rows)
    if depth == 8:
        return rows.reshape(height, width, channels).astype(np.float64)
    if depth == 16:
        wide = rows.view(">u2").reshape(height, width, channels)
        return wide.astype(np.float64) / 257.0
    bits = np.unpackbits(rows, axis=1)[:, : width * depth].reshape(height, width, depth)
    weights = 2 ** np.arange(depth - 1, -1, -1)
    values: npt.NDArray[np.float64] = (bits @ weights).astype(np.float64)[..., np.newaxis]
    return values


def _row(
    kind: int, line: npt.NDArray[np.uint8], up: npt.NDArray[np.uint8], bpp: int
) -> npt.NDArray[np.uint8]:
    """One row of samples from its filtered bytes and the row above (PNG spec, section 9)."""
    if kind == 0:
        return line
    if kind == 2:
        return line + up  # uint8 arithmetic wraps modulo 256, as the filters are defined
    if kind == 1:  # Sub: a running sum per channel, vectorised
        sums = np.cumsum(line.reshape(-1, bpp).astype(np.int64), axis=0) % 256
        return sums.astype(np.uint8).reshape(-1)
    if kind not in (3, 4):
        raise InvalidInput(f"The PNG uses row filter {kind}, which does not exist (0-4).")
    # Average and Paeth depend on the byte just decoded, so they go byte by byte.
    out = bytearray(len(line))
    above = up.tolist()
    for i, value in enumerate(line.tolist()):
        left = out[i - bpp] if i >= bpp else 0
        corner = above[i - bpp] if i >= bpp else 0
        guess = (left + above[i]) // 2 if kind == 3 else _paeth(left, above[i], corner)
        out[i] = (value + guess) & 0xFF
    return np.frombuffer(bytes(out), dtype=np.uint8)


def _paeth(left: int, up: int, corner: int) -> int:
    estimate = left + up - corner
    distances = (abs(estimate - left), abs(estimate - up), abs(estimate - corner))
    return (left, up, corner)[distances.index(min(distances))]


def _palette(table: bytes | None, indices: npt.NDArray[np.intp]) -> npt.NDArray[Any]:
    if not table or len(table) % 3:
        raise InvalidInput("The palette PNG has no valid PLTE chunk.")
    colours = np.frombuffer(table, dtype=np.uint8).reshape(-1, 3)
    if int(indices.max(initial=0)) >= len(colours):
        raise InvalidInput("The palette PNG refers to a colour its palette does not have.")
    return colours[indices]


def _to_grey(samples: npt.NDArray[Any]) -> Grey:
    """ITU-R 601 luma (Pillow's convert("L") weights), over white where the image is
    transparent, as a browser shows it."""
    values = samples.astype(np.float64)
    alpha = values[..., -1] / 255.0 if values.shape[-1] in (2, 4) else None
    colour = values[..., :-1] if alpha is not None else values
    grey: Grey = colour[..., 0] if colour.shape[-1] == 1 else colour @ LUMA
    return grey if alpha is None else grey * alpha + 255.0 * (1.0 - alpha)
