"""The one way any image becomes pixels: upright 8-bit RGB, then a square uint8 array.

Ingest hashes what :func:`to_rgb` returns, the cache stage stores what
:func:`image_to_array` returns, and the served stack prepares each request with it too,
so a served image is prepared exactly like the images the stack was tested on.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps


def image_to_array(image: Image.Image, size: int) -> np.ndarray:
    """The one way an image becomes a cache row: RGB, ``size`` x ``size``, uint8.

    The cache stage and the served stack both use it, so a served image is prepared
    exactly like the images the stack was tested on.
    """
    rgb = to_rgb(image).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)


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
