"""Image safety: decode only what is an accepted format of a sane size, the same way always.

Ingest checks every image in three steps, cheapest first:

1. the **header** (``Image.open`` reads nothing else): the format must be one of
   ``data.formats`` and width x height at most ``data.max_pixels``, so a decompression
   bomb is rejected before a single pixel is decoded;
2. a **full decode** (``verify`` then ``load``), with Pillow's decompression-bomb warning
   turned into an error for the duration, so a size that only shows up while decoding
   is rejected too;
3. **normalisation** with :func:`taxonomist.data.pixels.to_rgb` (EXIF orientation, 16 bits,
   transparency, CMYK), the function the cache stage and the served stack use as well,
   and a 64-bit perceptual hash (pHash) of the result for near-duplicate checks.
"""

from __future__ import annotations

import difflib
import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import imagehash
from PIL import Image, UnidentifiedImageError

from taxonomist.config import DataConfig
from taxonomist.data.pixels import to_rgb
from taxonomist.data.rejects import Rejected
from taxonomist.errors import ConfigError

DEFAULT_FORMATS = ("JPEG", "PNG", "WEBP")
DEFAULT_MAX_PIXELS = 50_000_000
# Phone cameras write MPO, a JPEG with extra frames: Pillow's JPEG plugin opens it and
# names it MPO, so accepting JPEG accepts MPO too.
_EXTENSIONS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "WEBP": ".webp", "TIFF": ".tif"}
_BOMB = (Image.DecompressionBombError, Image.DecompressionBombWarning)


@dataclass(frozen=True)
class ImagePolicy:
    """What ingest accepts: Pillow format names and the largest width x height.

    Example:
        >>> ImagePolicy(formats=("PNG",), max_pixels=4096 * 4096)
    """

    formats: tuple[str, ...] = DEFAULT_FORMATS
    max_pixels: int = DEFAULT_MAX_PIXELS

    @classmethod
    def from_config(cls, data: DataConfig) -> ImagePolicy:
        """The policy ``data.formats`` and ``data.max_pixels`` describe.

        Raises:
            ConfigError: a format Pillow does not know, no format at all, or
                ``max_pixels`` below 1.
        """
        file = f"conf/data/{data.kind}.yaml"
        if not data.formats:
            raise ConfigError(file, "formats", "expected at least one image format, got none",
                              f"e.g. formats: [{', '.join(DEFAULT_FORMATS)}]")
        formats = tuple(str(f).upper() for f in data.formats)
        Image.init()  # registers every plugin, so Image.OPEN names them all
        for name in formats:
            if name not in Image.OPEN:
                close = difflib.get_close_matches(name, sorted(Image.OPEN), n=2)
                hint = f"did you mean {' or '.join(close)}?" if close else ""
                raise ConfigError(file, "formats", f"{name!r} is not an image format Pillow "
                                  f"reads (e.g. {', '.join(DEFAULT_FORMATS)})", hint)
        if data.max_pixels < 1:
            raise ConfigError(file, "max_pixels", f"expected a positive number of pixels, got "
                              f"{data.max_pixels}", "e.g. max_pixels: 50000000 (50 megapixels)")
        return cls(formats, data.max_pixels)


@dataclass(frozen=True)
class CheckedImage:
    """An image that passed every check.

    Attributes:
        width, height: of the normalised (upright) image, the one training sees.
        extension: for the stored file, from the format (".jpg" for JPEG and MPO).
        phash: 64-bit perceptual hash of the normalised image, 16 hex digits.
    """

    width: int
    height: int
    extension: str
    phash: str


def check_image(data: bytes, policy: ImagePolicy) -> CheckedImage:
    """Check the header, decode fully, normalise and hash one image's bytes.

    Raises:
        Rejected: kind ``format`` (readable, but not an accepted format), ``too_large``
            (more pixels than ``policy.max_pixels``), or ``unreadable`` (not an image,
            truncated, corrupt).
    """
    image = decode_checked(data, policy)
    with bounded_decoding(policy.max_pixels):
        try:
            rgb = to_rgb(image)
        except Exception as err:  # a corrupt EXIF block, say: PIL raises many types
            raise Rejected("unreadable", f"cannot normalise the image: {err}") from None
    image_format = image.format or ""
    extension = _EXTENSIONS.get(image_format, f".{image_format.lower()}")
    return CheckedImage(rgb.width, rgb.height, extension, perceptual_hash(rgb))


def decode_checked(data: bytes, policy: ImagePolicy) -> Image.Image:
    """Steps 1 and 2: the fully decoded image, once its header passed ``policy``.

    Ingest and the served stack (``taxonomist serve``, the MLflow pyfunc) both call
    this, so a request is held to the same formats and pixel limit as training data.

    Raises:
        Rejected: kind ``format``, ``too_large`` or ``unreadable``, as :func:`check_image`.
    """
    with bounded_decoding(policy.max_pixels):
        _check_header(data, policy)
        return _decode(data)


def perceptual_hash(rgb: Image.Image) -> str:
    """The 64-bit pHash of a normalised image as 16 hex digits (``imagehash.phash``)."""
    return str(imagehash.phash(rgb))


@contextmanager
def bounded_decoding(max_pixels: int) -> Iterator[None]:
    """Within the block, an image over ``max_pixels`` raises instead of decoding.

    Pillow warns above ``Image.MAX_IMAGE_PIXELS`` and raises above twice that; here the
    limit is ``max_pixels`` and the warning is an error too. Both are restored after,
    so nothing outside ingest (a notebook, the served model) is affected. Not thread-safe:
    ingest decodes in one thread.
    """
    previous = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def _check_header(data: bytes, policy: ImagePolicy) -> str:
    """The format, once the header shows an accepted format of an acceptable size."""
    try:
        with Image.open(io.BytesIO(data), formats=policy.formats) as image:
            size, image_format = image.size, image.format or ""
    except UnidentifiedImageError:
        raise _unaccepted(data, policy) from None
    except _BOMB:
        raise _too_large(_declared_size(data), policy) from None
    except Exception as err:  # a broken header: PIL raises many types
        raise Rejected("unreadable", f"cannot read the image header: {err}") from None
    if size[0] * size[1] > policy.max_pixels:
        raise _too_large(size, policy)
    if min(size) < 1:
        raise Rejected("unreadable", f"the header declares an empty image ({size[0]}x{size[1]})")
    return image_format


def _decode(data: bytes) -> Image.Image:
    """The fully decoded image.

    ``verify`` catches broken structure, ``load`` a truncated pixel stream; both are
    needed because each misses what the other finds.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        image = Image.open(io.BytesIO(data))
        image.load()
    except _BOMB as err:
        raise Rejected("too_large", f"decoding reached more pixels than allowed: {err}") from None
    except Exception as err:  # corrupt input makes PIL's decoders raise many types
        raise Rejected("unreadable", f"cannot decode the image: {err}") from None
    return image


def _unaccepted(data: bytes, policy: ImagePolicy) -> Rejected:
    """Why bytes that no accepted format's plugin recognises are rejected."""
    accepted = f"accepted formats are {', '.join(policy.formats)} (data.formats)"
    try:
        with Image.open(io.BytesIO(data)) as image:
            found = image.format
    except _BOMB:
        return Rejected("format", f"not one of the accepted formats; {accepted}")
    except Exception:  # nothing recognises it: not an image at all
        return Rejected("unreadable", "not an image format PIL can read")
    return Rejected("format", f"a {found} image; {accepted}; convert it or add {found} there")


def _too_large(size: tuple[int, int] | None, policy: ImagePolicy) -> Rejected:
    declared = f"{size[0]}x{size[1]} ({size[0] * size[1]:,} pixels)" if size else "a size"
    return Rejected(
        "too_large",
        f"the header declares {declared}, over data.max_pixels ({policy.max_pixels:,}); "
        "a decompression bomb, or an image far larger than training needs: shrink it, or "
        "raise data.max_pixels if it is genuine",
    )


def _declared_size(data: bytes) -> tuple[int, int] | None:
    """The size a header declares, read with the pixel limit off (nothing is decoded)."""
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # only for the message; the image is rejected either way
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = previous
