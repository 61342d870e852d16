"""``taken_at``: a checked date from the manifest, else the camera's EXIF DateTimeOriginal.

A date nobody can read is a reject naming the image, not a string carried into the
manifest: the selection-bias check counts images per month of ``taken_at``, and a silent
"31/02/2024" would quietly leave an image out of its month.
"""

from __future__ import annotations

import io
import re
from datetime import datetime

import pandas as pd
from PIL import ExifTags, Image

from taxonomist.data.rejects import Rejected

_EXIF_FORMAT = "%Y:%m:%d %H:%M:%S"
_OFFSET = re.compile(r"[+-]\d\d:\d\d")
_ISO_HINT = "expected ISO 8601, e.g. 2024-05-17 or 2024-05-17T14:03:00 (empty if unknown)"


def check_taken_at(text: str) -> str:
    """``text`` stripped, once it is known to be an ISO 8601 date or time (or empty).

    It is parsed the way the data checks parse it (pandas, ``format="ISO8601"``), so what
    passes here is what they count.

    Raises:
        Rejected: kind ``bad_date``, e.g. for ``31/02/2024`` or ``2024-02-30``.
    """
    text = text.strip()
    # pandas also reads "now", "today" and "NaT"; a date in a manifest starts with its year
    if text and not (text[0].isdigit() and _parses(text)):
        raise Rejected("bad_date", f"taken_at {text!r} is not a date; {_ISO_HINT}")
    return text


def exif_taken_at(data: bytes) -> str:
    """The EXIF DateTimeOriginal of the image ``data`` as ISO 8601, "" when it has none.

    The camera's OffsetTimeOriginal (EXIF 2.31), when present, is kept as the time zone.
    DateTime (the last change of the file) is not used: an edit would move the photo.
    A date of blanks or zeros is the EXIF way to say "unknown" and gives "".

    Raises:
        Rejected: kind ``bad_date``: the EXIF cannot be read, or its date is not one.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            exif = image.getexif().get_ifd(ExifTags.IFD.Exif)
    except Exception as err:  # Pillow's EXIF parser raises many kinds on a damaged block
        raise Rejected("bad_date", f"its EXIF cannot be read ({type(err).__name__}: {err}); "
                       "give taken_at in a manifest CSV") from None
    raw = _text(exif.get(ExifTags.Base.DateTimeOriginal))
    if not raw.strip(" :0"):
        return ""
    try:
        when = datetime.strptime(raw, _EXIF_FORMAT).isoformat()
    except ValueError:
        raise Rejected("bad_date", f"its EXIF DateTimeOriginal {raw!r} is not a date (expected "
                       "YYYY:MM:DD HH:MM:SS); fix it (e.g. exiftool -DateTimeOriginal=...) or "
                       "give taken_at in a manifest CSV, which wins over EXIF") from None
    offset = _text(exif.get(ExifTags.Base.OffsetTimeOriginal))
    return when + offset if _OFFSET.fullmatch(offset) else when


def _parses(text: str) -> bool:
    try:
        return not pd.isna(pd.to_datetime(text, format="ISO8601", utc=True))
    except (ValueError, OverflowError):
        return False


def _text(value: object) -> str:
    """An EXIF ASCII value as text: some cameras write bytes, padded with NULs."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value or "").strip("\x00 ")
