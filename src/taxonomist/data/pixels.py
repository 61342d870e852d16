"""The one way any image becomes pixels: upright 8-bit RGB, then a square uint8 array.

Ingest hashes what :func:`to_rgb` returns, the cache stage stores what
:func:`image_to_array` returns, and the served stack prepares each request with it too,
so a served image is prepared exactly like the images the stack was tested on.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps


def image_to_array(image: Image.Image, size: int, crop: Region | None = None) -> np.ndarray:
    """The one way an image becomes a cache row: RGB, cropped to ``crop`` (a region of
    the upright image, see :func:`crop_region`) when given, ``size`` x ``size``, uint8.

    The cache stage and the served stack both use it, so a served image is prepared
    exactly like the images the stack was tested on.
    """
    rgb = to_rgb(image)
    if crop is not None:
        rgb = rgb.crop(crop)
    return np.asarray(rgb.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


Region = tuple[int, int, int, int]  # x0, y0, x1, y1 in whole pixels, x1 and y1 excluded


def crop_region(boxes: np.ndarray, width: np.ndarray, height: np.ndarray, margin: float
                ) -> np.ndarray:
    """Boxes (..., 4) grown by ``margin`` of their width and height on each side, rounded
    outwards to whole pixels and clamped to the image: what the cache crops an image to.

    Example:
        >>> crop_region(np.array([10, 10, 30, 20]), 100, 100, 0.1).tolist()
        [8, 9, 32, 21]
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    grow_x = (boxes[..., 2] - boxes[..., 0]) * margin
    grow_y = (boxes[..., 3] - boxes[..., 1]) * margin
    corners = [np.floor(np.clip(boxes[..., 0] - grow_x, 0, width)),
               np.floor(np.clip(boxes[..., 1] - grow_y, 0, height)),
               np.ceil(np.clip(boxes[..., 2] + grow_x, 0, width)),
               np.ceil(np.clip(boxes[..., 3] + grow_y, 0, height))]
    return np.stack(corners, axis=-1).astype(np.int64)


# Transparent pixels are laid on white, like a cut-out photo on a page.
BACKGROUND = (255, 255, 255, 255)


def to_rgb(image: Image.Image) -> Image.Image:
    """The one way any image becomes upright 8-bit RGB: ingest, the cache and serving share it.

    - the EXIF orientation is applied, so a phone photo stored sideways comes out upright
      (and its width and height are those of the upright image);
    - 16-bit greys (``I;16``, ``I``) are scaled to 8 bits; Pillow's ``convert`` would clip
      them, turning almost every pixel white;
    - transparency (``RGBA``, ``LA``, ``PA``, a palette or colour key with a transparent
      entry) is composited on white, so hidden pixels never leak their stored colour;
    - anything else (``CMYK``, ``L``, ``P``, ``1``, ``YCbCr``) goes through ``convert``.

    Example:
        >>> to_rgb(Image.open("scan-16bit.png")).mode
        'RGB'
    """
    upright = ImageOps.exif_transpose(image)
    if upright.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):
        upright = _sixteen_to_eight_bits(upright)
    if upright.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in upright.info:
        rgba = upright.convert("RGBA")
        upright = Image.alpha_composite(Image.new("RGBA", rgba.size, BACKGROUND), rgba)
    return upright.convert("RGB")


def _sixteen_to_eight_bits(image: Image.Image) -> Image.Image:
    """A 16-bit grey image as 8-bit ``L``: 0..65535 scaled (and rounded) to 0..255."""
    wide = np.clip(np.asarray(image, dtype=np.int64), 0, 65535)
    return Image.fromarray(((wide * 255 + 32767) // 65535).astype(np.uint8))


def grey_ink(image: np.ndarray, size: int) -> np.ndarray:
    """One uint8 RGB image -> (size * size,) ink in [0, 1], what the SVC baseline reads
    (:func:`taxonomist.evaluate.baselines.grey_pixels`): grey, box-averaged, inverted."""
    small = Image.fromarray(image).convert("L").resize((size, size), Image.Resampling.BOX)
    return 1.0 - np.asarray(small, dtype=np.float32).ravel() / 255.0
