"""Image safety: formats, sizes and bombs refused from the header; one normalisation for all."""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib

import imagehash
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from taxonomist.config import DataConfig, Paths
from taxonomist.data import ImagePolicy, ingest
from taxonomist.data.images import perceptual_hash
from taxonomist.data.pixels import image_to_array, to_rgb
from taxonomist.errors import ConfigError
from taxonomist.taxonomy import Taxonomy
from tests.data.conftest import SourceFolder, image_bytes

# A grey picture, 8 wide and 6 high; every encoding below must come back as exactly this.
GREY = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
ORIENTATION = 0x0112  # the EXIF tag; 6 means "turn 90 degrees clockwise to display"


def png_declaring(width: int, height: int) -> bytes:
    """A PNG header that declares ``width`` x ``height`` with no pixels behind it: what a
    decompression bomb looks like to ``Image.open``, made in microseconds."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b""))
            + chunk(b"IEND", b""))


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def exif6() -> Image.Exif:
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    return exif


def sideways_with_exif() -> bytes:
    """GREY stored turned a quarter left, with the EXIF tag that turns it upright."""
    return encode(Image.fromarray(np.ascontiguousarray(np.rot90(GREY))), exif=exif6())


def palette_with_transparent_unused_entry() -> bytes:
    image = Image.fromarray(GREY).convert("P")
    return encode(image, transparency=255)  # index 255: no pixel of GREY uses it


ENCODINGS = {
    "L": lambda: encode(Image.fromarray(GREY)),
    "16-bit grey (I;16)": lambda: encode(Image.fromarray(GREY.astype(np.uint16) * 257)),
    "palette (P)": lambda: encode(Image.fromarray(GREY).convert("P")),
    "palette with a transparent entry": palette_with_transparent_unused_entry,
    "RGBA, opaque": lambda: encode(Image.fromarray(GREY).convert("RGBA")),
    "LA, opaque": lambda: encode(Image.fromarray(GREY).convert("LA")),
    "CMYK (TIFF)": lambda: encode(Image.fromarray(GREY).convert("RGB").convert("CMYK"), "TIFF"),
    "EXIF-rotated": sideways_with_exif,
}


@pytest.mark.parametrize("make", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_every_encoding_normalises_to_the_same_upright_rgb(make) -> None:
    with Image.open(io.BytesIO(make())) as image:
        rgb = to_rgb(image)
    assert (rgb.mode, rgb.size) == ("RGB", (8, 6))
    assert np.array_equal(np.asarray(rgb), np.stack([GREY] * 3, axis=-1))


def test_sixteen_bits_are_scaled_not_clipped_in_the_cache_too() -> None:
    with Image.open(io.BytesIO(ENCODINGS["16-bit grey (I;16)"]())) as image:
        assert image.mode == "I;16"
        cached = image_to_array(image, 8)
        assert np.array_equal(cached, np.asarray(to_rgb(image).resize((8, 8), Image.BILINEAR)))
    assert cached.mean() < 200, "Pillow's own convert would have made it nearly all white"


@pytest.mark.parametrize("mode", ["RGBA", "LA", "PA"])
def test_transparent_pixels_are_laid_on_white(mode: str) -> None:
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (10, 20, 30, 0)  # invisible: its colour must not leak
    rgba[0, 1] = (10, 20, 30, 255)
    rgba[1, :] = (0, 0, 0, 128)
    image = Image.fromarray(rgba).convert(mode)
    rgb = np.asarray(to_rgb(image)).astype(int)
    assert rgb[0, 0].tolist() == [255, 255, 255]
    assert rgb[1, 0].tolist() == pytest.approx([127, 127, 127], abs=2)
    assert rgb[0, 1].tolist() != [255, 255, 255]


def test_a_transparent_palette_entry_is_white() -> None:
    image = Image.fromarray(np.array([[0, 1]], np.uint8), mode="P")
    image.putpalette([200, 0, 0, 0, 200, 0] + [0] * 762)
    with Image.open(io.BytesIO(encode(image, transparency=0))) as reopened:
        assert np.asarray(to_rgb(reopened)).tolist() == [[[255, 255, 255], [0, 200, 0]]]


def ingest_one(folder: SourceFolder, taxonomy: Taxonomy, paths: Paths, data: bytes,
               policy: ImagePolicy | None = None, name: str = "a.png", **extra: str):
    folder.add(name, "circle", data, **extra)
    result = ingest(folder.source(), taxonomy, paths, policy)
    rejects = pd.read_csv(paths.rejects, dtype=str, keep_default_na=False)
    return result, rejects


# name: (bytes, kind, reason pattern, file name)
BAD = {
    "decompression bomb": (
        lambda: png_declaring(100_000, 100_000), "too_large",
        r"a\.png: the header declares 100000x100000 \(10,000,000,000 pixels\), over "
        r"data\.max_pixels \(50,000,000\); a decompression bomb", "a.png"),
    "GIF": (lambda: image_bytes(1, "GIF"), "format",
            r"a\.gif: a GIF image; accepted formats are JPEG, PNG, WEBP \(data\.formats\)",
            "a.gif"),
    "BMP named .jpg": (lambda: image_bytes(1, "BMP"), "format", "a BMP image", "a.jpg"),
    "HTML named .png": (lambda: b"<html>404 Not Found</html>", "unreadable",
                        r"a\.png: not an image format PIL can read", "a.png"),
    "truncated WebP": (lambda: image_bytes(1, "WEBP", (64, 64))[:60], "unreadable",
                       r"a\.webp: cannot", "a.webp"),
    "truncated JPEG": (lambda: image_bytes(1, "JPEG", (32, 32))[:-10], "unreadable",
                       r"a\.jpg: cannot decode the image: .*truncated", "a.jpg"),
    "zero bytes": (lambda: b"", "empty", r"a\.jpg: the file is empty \(0 bytes\)", "a.jpg"),
    "text named .jpg": (lambda: b"not an image\n", "unreadable", "not an image format", "a.jpg"),
}


@pytest.mark.parametrize(("make", "kind", "reason", "name"), BAD.values(), ids=BAD.keys())
def test_bad_images_are_rejected_with_a_kind_and_the_file_name(
    make, kind: str, reason: str, name: str,
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths,
) -> None:
    result, rejects = ingest_one(folder, taxonomy, paths, make(), name=name)
    assert (result.added, result.rejected) == (0, 1)
    assert rejects["kind"].tolist() == [kind]
    assert re.search(reason, rejects["reason"][0]), rejects["reason"][0]


@pytest.mark.parametrize(
    ("side", "accepted"),
    [(31, True), (40, False), (64, False)],  # 961 px; 1,600 (Pillow warns); 4,096 (it raises)
)
def test_max_pixels_bounds_what_is_decoded(
    side: int, accepted: bool, folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    policy = ImagePolicy(max_pixels=1000)
    result, rejects = ingest_one(folder, taxonomy, paths, image_bytes(1, size=(side, side)),
                                 policy)
    assert result.added == int(accepted)
    if not accepted:
        assert rejects["kind"].tolist() == ["too_large"]
        assert f"declares {side}x{side}" in rejects["reason"][0]


def test_pillow_limits_are_left_as_they_were(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    limit, filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
    ingest_one(folder, taxonomy, paths, png_declaring(100_000, 100_000), ImagePolicy(max_pixels=9))
    assert Image.MAX_IMAGE_PIXELS == limit
    assert warnings.filters == filters


def test_accepted_formats_come_from_the_config(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    policy = ImagePolicy.from_config(DataConfig(formats=["png", "Jpeg"]))
    assert policy.formats == ("PNG", "JPEG")
    folder.add("a.webp", "circle", image_bytes(1, "WEBP"))
    folder.add("b.jpg", "oval", image_bytes(2, "JPEG"))

    result = ingest(folder.source(), taxonomy, paths, policy)

    assert (result.added, result.rejected) == (1, 1)
    reason = pd.read_csv(paths.rejects)["reason"][0]
    assert "a WEBP image; accepted formats are PNG, JPEG (data.formats)" in reason


def test_webp_is_accepted_by_default(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    result, _ = ingest_one(folder, taxonomy, paths, image_bytes(1, "WEBP"), name="a.webp")
    assert result.added == 1
    assert pd.read_parquet(paths.manifest)["stored"][0].endswith(".webp")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"formats": ["JPG"]}, r"(?s)data/sample\.yaml: formats: 'JPG' is not an image format "
                               "Pillow reads.*did you mean JPEG"),
        ({"formats": []}, r"formats: expected at least one image format, got none"),
        ({"max_pixels": 0}, r"max_pixels: expected a positive number of pixels, got 0"),
    ],
)
def test_an_unusable_image_policy_is_refused(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ImagePolicy.from_config(DataConfig(**changes))


def test_ingest_records_the_upright_size_and_checks_the_bbox_against_it(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    box = {"bbox_x0": "0", "bbox_y0": "0", "bbox_x1": "8", "bbox_y1": "6"}
    folder.add("upright-box.png", "circle", sideways_with_exif(), **box)
    other = Image.fromarray(np.ascontiguousarray(np.rot90(GREY + 1)))  # also stored sideways
    folder.add("stored-box.png", "oval", encode(other, exif=exif6()),
               **(box | {"bbox_x1": "6", "bbox_y1": "8"}))  # the box of the stored pixels

    result = ingest(folder.source(), taxonomy, paths)

    assert (result.added, result.rejected) == (1, 1)
    row = pd.read_parquet(paths.manifest).iloc[0]
    assert (row["width"], row["height"]) == (8, 6)
    assert "outside the 8x6 image (upright, after its EXIF orientation)" in (
        pd.read_csv(paths.rejects)["reason"][0])


def test_ingest_normalises_like_the_cache_and_hashes_the_result(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    cmyk = Image.new("CMYK", (16, 16), (0, 200, 200, 0))  # red, by Pillow's naive rule
    folder.add("cmyk.jpg", "circle", encode(cmyk, "JPEG", quality=95))
    folder.add("sideways.png", "oval", sideways_with_exif())
    folder.add("deep.png", "square", ENCODINGS["16-bit grey (I;16)"]())

    result = ingest(folder.source(), taxonomy, paths)

    assert result.added == 3
    for row in pd.read_parquet(paths.manifest).itertuples():
        with Image.open(paths.root / row.stored) as stored:
            rgb = to_rgb(stored)
        assert row.phash == perceptual_hash(rgb)
        assert (row.width, row.height) == rgb.size
    red = np.asarray(to_rgb(Image.open(paths.root / row_for(paths, "cmyk.jpg"))))
    assert red.reshape(-1, 3).mean(axis=0) == pytest.approx([255, 55, 55], abs=4)


def row_for(paths: Paths, path: str) -> str:
    manifest = pd.read_parquet(paths.manifest)
    return manifest.set_index("path").at[path, "stored"]


def smooth(seed: int, size: int = 64) -> Image.Image:
    """A smooth picture (a few blurred blobs), so JPEG changes it only a little."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    picture = sum(np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 0.02) for cx, cy in rng.random((4, 2)))
    return Image.fromarray(np.uint8(255 * picture / picture.max())).convert("RGB")


def test_the_phash_is_close_for_re_encodings_and_far_for_other_pictures() -> None:
    def phash(data: bytes) -> imagehash.ImageHash:
        with Image.open(io.BytesIO(data)) as image:
            return imagehash.hex_to_hash(perceptual_hash(to_rgb(image)))

    original = phash(encode(smooth(1)))
    assert len(str(original)) == 16, "64 bits as 16 hex digits"
    assert original - phash(encode(smooth(1), "JPEG", quality=70)) <= 4
    assert original - phash(encode(smooth(1).resize((48, 48)))) <= 4
    assert original - phash(encode(smooth(2))) > 12
