"""The columns of ``data/manifest.parquet``, declared once for ingest and the data checks.

Ingest writes one row per stored image (:mod:`taxonomist.data.manifest`); the validate
stage checks them (:mod:`taxonomist.checks.manifest`). ``id`` is the sha256 of the image
bytes; ``stored`` is where the bytes live, relative to the project root; ``phash`` is a
64-bit perceptual hash (16 hex digits) of the normalised image; ``label_source`` says
where the label came from (import, crowd, expert), ``label_workers`` how many people
gave it (blank when unknown) and ``label_agreement`` the share of them who gave this label
(blank for one person or an import); ``bbox_*`` are an optional box in pixels of the upright image
(all four null when there is none); ``excluded`` is empty for an image in use, else why
it was taken out of the splits (:data:`EXCLUSION_REASONS`): it stays in the store, the
manifest and the label history. A manifest may carry more columns than these: the extra
columns of the source's CSV (a photographer, say) follow them.
"""

from __future__ import annotations

import pandas as pd

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
OPTIONAL_COLUMNS = ("label_source", "phash", *BBOX_COLUMNS, "excluded", "label_workers",
                    "label_agreement")
# Where a label came from: they describe the label, so they change with it and only with it.
PROVENANCE_COLUMNS = ("label_source", "label_workers", "label_agreement")
# What a re-ingest may change about a recorded image, under data.label_precedence; every
# earlier value is kept in data/label_history.parquet. The rest (the bytes, their size,
# the path first recorded, a bbox) stay as first recorded.
CORRECTABLE_COLUMNS = ("label", "set_id", "source", "taken_at", "excluded", *PROVENANCE_COLUMNS)
# What ingest records for each accepted image, in this order.
MANIFEST_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
# Whole numbers: always set (the image's size in pixels), or null where there is no box.
INT_COLUMNS = ("width", "height")
NULLABLE_INT_COLUMNS = BBOX_COLUMNS

# Why an image may be taken out of the splits: another photo of the same object, not
# anything the taxonomy classifies (not a vehicle at all), or unreadable for a person.
EXCLUSION_REASONS = ("duplicate", "out_of_taxonomy", "unusable")


def in_use(manifest: pd.DataFrame) -> pd.DataFrame:
    """The manifest's rows that are not excluded: what the splits, the checks and the
    caches see. A manifest without an ``excluded`` column (an older ingest) is all in use."""
    if "excluded" not in manifest.columns:
        return manifest
    return manifest[manifest["excluded"].fillna("") == ""]


def test_labels_changed(manifest: pd.DataFrame, splits: pd.DataFrame) -> int:
    """Images of the frozen test split whose label now differs from the one they were
    split with (``splits.label``, which the split stage never rewrites): what the model
    card reports as test labels corrected since the test split was frozen."""
    needed = {"id", "label"}
    if not needed | {"split"} <= set(splits.columns) or not needed <= set(manifest.columns):
        return 0
    test = splits.loc[splits["split"] == "test", ["id", "label"]]
    # a manifest with repeated ids fails validation by itself; the count takes the first
    now = test["id"].map(manifest.drop_duplicates("id").set_index("id")["label"])
    return int((now.notna() & (now != test["label"])).sum())
