"""Hypothesis strategies for hostile input: image files and text files, mutated.

The profile (``tests/conftest.py``) is derandomized, so CI tries the same examples every
run; ``HYPOTHESIS_PROFILE=explore`` tries new ones, many more, to hunt for bugs locally.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from hypothesis import strategies as st
from PIL import Image

# Sizes a header may claim: empty, huge, and (read as signed) negative.
EXTREME_SIZES = (0, 1, 0x7FFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


def image_file(fmt: str, size: tuple[int, int] = (12, 9)) -> bytes:
    """A small image of random pixels in ``fmt``, drawn with PIL."""
    pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt)
    return out.getvalue()


VALID_IMAGES = {fmt: image_file(fmt) for fmt in ("PNG", "JPEG", "WEBP")}


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` truncated, with bytes overwritten, inserted or deleted, or a size written
    into its first bytes (where headers keep theirs)."""
    kind = draw(st.sampled_from(["truncate", "overwrite", "insert", "delete", "size"]))
    at = draw(st.integers(0, len(data)))
    if kind == "truncate":
        return data[:at]
    if kind == "overwrite":
        patch = draw(st.binary(min_size=1, max_size=8))
        return data[:at] + patch + data[at + len(patch):]
    if kind == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
    if kind == "delete":
        return data[:at] + data[at + draw(st.integers(1, 16)):]
    offset = draw(st.integers(0, min(len(data), 64)))
    layout = draw(st.sampled_from([">H", "<H", ">I", "<I"]))
    size = draw(st.sampled_from(EXTREME_SIZES)) % 256 ** struct.calcsize(layout)
    packed = struct.pack(layout, size)
    return data[:offset] + packed + data[offset + len(packed):]


@st.composite
def png_claiming(draw: st.DrawFn) -> bytes:
    """A PNG whose header (with a correct CRC, so readers believe it) claims an extreme
    width and height over the pixels of a small image."""
    data = bytearray(VALID_IMAGES["PNG"])
    ihdr = bytearray(data[12:29])  # b"IHDR" + 13 bytes of fields
    sizes = st.sampled_from(EXTREME_SIZES) | st.integers(0, 0xFFFFFFFF)
    ihdr[4:12] = struct.pack(">II", draw(sizes), draw(sizes))
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


@st.composite
def jpeg_claiming(draw: st.DrawFn) -> bytes:
    """A JPEG whose frame header (SOF0) claims an extreme height and width."""
    data = bytearray(VALID_IMAGES["JPEG"])
    sof = data.index(b"\xff\xc0")  # marker, length (2), precision (1), height, width
    sizes = st.sampled_from([0, 1, 0x7FFF, 0xFFFF]) | st.integers(0, 0xFFFF)
    data[sof + 5:sof + 9] = struct.pack(">HH", draw(sizes), draw(sizes))
    return bytes(data)


def hostile_images() -> st.SearchStrategy[bytes]:
    """Image-like bytes: random, valid images mutated, headers claiming extreme sizes."""
    return st.one_of(
        st.binary(max_size=512),
        *(mutated(data) for data in VALID_IMAGES.values()),
        png_claiming(),
        jpeg_claiming(),
    )


def nested_json(depth: int) -> bytes:
    """A JSON list nested ``depth`` deep (a parser that recurses runs out of stack)."""
    return b"[" * depth + b"]" * depth


def mutated_text(text: str) -> st.SearchStrategy[bytes]:
    """``text``'s UTF-8 bytes mutated, or random bytes with the text's separators in them."""
    data = text.encode()
    separators = st.sampled_from([b",", b'"', b"\n", b"\r", b"{", b"}", b"[", b"]", b":",
                                  b"\x00", b"\xff", b"\xef\xbb\xbf"])
    return st.one_of(mutated(data), st.lists(separators | st.binary(max_size=4), max_size=60)
                     .map(b"".join))
