"""The columns of ``data/manifest.parquet``, declared once for ingest and the data checks.

Ingest writes one row per stored image (:mod:`taxonomist.data.manifest`); the validate
stage checks them (:mod:`taxonomist.checks.manifest`). ``id`` is the sha256 of the image
bytes; ``stored`` is where the bytes live, relative to the project root; ``phash`` is a
64-bit perceptual hash (16 hex digits) of the normalised image; ``label_source`` says
where the label came from; ``bbox_*`` are an optional box in pixels of the upright image
(all four null when there is none). A manifest may carry more columns than these: the
extra columns of the source's CSV (a photographer, say) follow them.
"""

from __future__ import annotations

# What a source's manifest CSV must provide, one row per image.
SOURCE_COLUMNS = ("path", "label", "source", "set_id", "taken_at")
# An optional box around the object, in pixels of the upright image.
BBOX_COLUMNS = ("bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1")
# Every manifest has these; the validate stage fails when one is missing.
REQUIRED_COLUMNS = (
    "id", "path", "label", "source", "set_id", "taken_at", "width", "height", "stored",
)
# Added by later versions of ingest: an older manifest may lack them, and the checks that
# need one are then left out with a note instead of failing.
OPTIONAL_COLUMNS = ("label_source", "phash", *BBOX_COLUMNS)
# What ingest records for each accepted image, in this order.
MANIFEST_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
# Whole numbers: always set (the image's size in pixels), or null where there is no box.
INT_COLUMNS = ("width", "height")
NULLABLE_INT_COLUMNS = BBOX_COLUMNS
