"""Checks on one manifest row that need no image bytes: path, label, provenance, bbox.

They run before anything is downloaded, so a bad row costs no bandwidth. The bbox is
checked twice: its numbers here, its fit inside the image once the image is decoded.
"""

from __future__ import annotations

import difflib
from typing import Any

from taxonomist.contracts.manifest import BBOX_COLUMNS, EXCLUSION_REASONS
from taxonomist.data.rejects import Rejected
from taxonomist.data.sources.base import outside_reason
from taxonomist.taxonomy import Taxonomy

# Where a label came from when the source's manifest does not say.
DEFAULT_LABEL_SOURCE = "import"

Bbox = tuple[int, int, int, int]


def check_path(path: str) -> None:
    reason = "is empty" if not path else outside_reason(path)
    if reason:
        raise Rejected(
            "bad_path",
            f"the path {reason}; manifest paths must be relative to the source folder "
            "(or bucket prefix) and stay inside it",
        )


def check_label(label: str, taxonomy: Taxonomy) -> None:
    if label in taxonomy:
        return
    close = difflib.get_close_matches(label, taxonomy.nodes, n=3)
    if close:
        hint = f"did you mean {' or '.join(repr(c) for c in close)}?"
    else:
        names = taxonomy.leaves[:6]
        more = ", ..." if len(taxonomy.leaves) > len(names) else ""
        hint = f"valid labels include {', '.join(names)}{more}"
    raise Rejected(
        "unknown_label",
        f"label {label!r} is not a class of taxonomy '{taxonomy.name}' ({taxonomy.source}); "
        f"{hint}",
    )


def label_source(row: dict[str, str]) -> str:
    """The row's ``label_source`` (import, crowd, expert, ...), ``import`` when blank."""
    return row.get("label_source", "").strip() or DEFAULT_LABEL_SOURCE


def check_excluded(row: dict[str, str]) -> str:
    """The row's ``excluded`` reason, "" (in use) when the cell is blank or missing.

    Raises:
        Rejected: kind ``bad_exclusion``: the reason is not one of EXCLUSION_REASONS (a
            "no" or "false" must not take an image out of training by accident).
    """
    reason = row.get("excluded", "").strip()
    if reason and reason not in EXCLUSION_REASONS:
        raise Rejected("bad_exclusion", f"excluded is {reason!r}; expected it blank (the "
                       f"image is used) or one of {', '.join(EXCLUSION_REASONS)}")
    return reason


def parse_bbox(row: dict[str, str]) -> Bbox | None:
    """The row's box as four whole pixel numbers, or None when all four cells are blank.

    Raises:
        Rejected: kind ``bad_bbox``: some cells are blank and some not, a value is not a
            whole number, or the corners are not ordered (x0 < x1, y0 < y1).
    """
    cells = {c: row.get(c, "").strip() for c in BBOX_COLUMNS}
    given = [c for c, v in cells.items() if v]
    if not given:
        return None
    if len(given) < len(BBOX_COLUMNS):
        blank = ", ".join(c for c in BBOX_COLUMNS if c not in given)
        raise Rejected("bad_bbox", f"the bbox has {', '.join(given)} but {blank} blank; give "
                       "all four corners (x0, y0, x1, y1) or none")
    try:
        x0, y0, x1, y1 = (int(cells[c]) for c in BBOX_COLUMNS)
    except ValueError:
        bad = next(c for c in BBOX_COLUMNS if not _is_int(cells[c]))
        raise Rejected("bad_bbox", f"{bad} is {cells[bad]!r}, expected a whole number of "
                       "pixels") from None
    if not (x0 < x1 and y0 < y1):
        raise Rejected("bad_bbox", f"the bbox ({x0}, {y0}, {x1}, {y1}) is empty or reversed; "
                       "expected x0 < x1 and y0 < y1 (top-left, then bottom-right corner)")
    return x0, y0, x1, y1


def check_bbox_inside(bbox: Bbox | None, width: int, height: int) -> None:
    """Raise unless the box lies within an image of ``width`` x ``height`` pixels.

    Coordinates are pixel edges in the upright image (after its EXIF orientation), so
    ``(0, 0, width, height)`` is the whole image.
    """
    if bbox is None:
        return
    x0, y0, x1, y1 = bbox
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
        raise Rejected("bad_bbox", f"the bbox ({x0}, {y0}, {x1}, {y1}) is outside the "
                       f"{width}x{height} image (upright, after its EXIF orientation); "
                       f"expected 0 <= x0 < x1 <= {width} and 0 <= y0 < y1 <= {height}")


def bbox_columns(bbox: Bbox | None) -> dict[str, Any]:
    """The four manifest cells of a box; None in each when there is no box."""
    return dict(zip(BBOX_COLUMNS, bbox or (None,) * 4, strict=True))


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True
