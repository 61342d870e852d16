"""The detect stage's output, and the one way later stages see it: joined onto the manifest.

``data/detections.parquet`` has one row per image in use when the detector last ran:

- ``bbox_x0 .. bbox_y1``: the best box of a counted class (``detect.labels``), in pixels
  of the upright image, rounded outwards to whole pixels; null when there was none at all;
- ``detect_score``: that box's score (0 when there was none);
- ``detector``: the model and the first 12 hex digits of its weights' sha256
  (``fasterrcnn_mobilenet_v3_large_320_fpn@3f2a9c1b7d4e``), or ``@DEFAULT`` for
  torchvision's own weights;
- ``detect_setup``: a digest of everything besides the image that shaped the raw box
  (detector, labels, builder arguments): an image is detected again only when it changes;
- ``outcome``: ``box`` (score >= ``detect.min_score``), ``review`` or ``label``;
- ``no_box_label``: for ``label``, the class the image takes instead (``detect.no_box``).

A DVC stage cannot rewrite another's output, so the manifest stays as ingest wrote it and
split, validate and cache read it through :func:`with_detections`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from taxonomist.contracts.labels import CROWD, EXPERT
from taxonomist.contracts.manifest import BBOX_COLUMNS
from taxonomist.errors import DataError

DETECTION_COLUMNS = ("id", *BBOX_COLUMNS, "detect_score", "detector", "detect_setup",
                     "outcome", "no_box_label")
# outcome; REVIEW is also what ``detect.no_box`` says to hold images out until reviewed
BOX, REVIEW, LABEL = "box", "review", "label"
HUB_WEIGHTS = "DEFAULT"  # detect.weights: torchvision's own weights (downloaded, online)
# The label_source of an image the detector relabelled (``detect.no_box: <class>``).
DETECTOR = "detector"
# A label a person gave after looking at the image stands against the detector's verdict.
DECIDED_BY_PEOPLE = (CROWD, EXPERT)
REVIEW_COLUMNS = ("id", "path", "detect_score")


@dataclass(frozen=True)
class DetectedBoxes:
    """Where the detect stage's boxes are, and how far the cache grows each box."""

    file: Path
    margin: float


def read_detections(path: Path) -> pd.DataFrame:
    """``data/detections.parquet``, checked for its columns.

    Raises:
        DataError: it is missing or lacks a column, with the command that writes it.
    """
    if not path.is_file():
        raise DataError(f"{path}: no detections yet, and detect.enabled is true; run "
                        "`taxonomist detect` (`dvc repro detect`) first")
    found = pd.read_parquet(path)
    missing = [c for c in DETECTION_COLUMNS if c not in found.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; rerun "
                        "`taxonomist detect` to rewrite it")
    return found


def with_detections(manifest: pd.DataFrame, detections: Path | None) -> pd.DataFrame:
    """The manifest as every stage after detect sees it (``detections`` None: as it is).

    - a box from the manifest CSV (a person drew it) wins; otherwise the detector's box,
      when its score reached ``detect.min_score``;
    - an image without either box keeps its label when a person decided it (crowd,
      expert); otherwise it leaves the manifest (``review``, until someone gives it a box
      or a label) or takes the configured class, with ``label_source: detector``;
    - ``detect_score`` and ``detector`` are carried for the checks and the report.

    Raises:
        DataError: an image in use has no detection (it was ingested after detect ran).
    """
    if detections is None:
        return manifest
    found = read_detections(detections).set_index("id")
    _require_detected(manifest, found, detections)
    joined = manifest.copy()
    row = found.reindex(joined["id"])
    joined["detect_score"] = row["detect_score"].to_numpy()
    joined["detector"] = row["detector"].to_numpy()
    drawn = _has_box(joined)
    detected = (row["outcome"] == BOX).to_numpy() & ~drawn
    for column in BBOX_COLUMNS:
        values = joined[column] if column in joined.columns else pd.NA
        joined[column] = pd.Series(values, index=joined.index, dtype="Int64")
        joined.loc[detected, column] = row[column].to_numpy()[detected].astype("int64")
    undecided = ~drawn & ~detected & ~_decided_by_people(joined)
    relabel = undecided & (row["outcome"] == LABEL).to_numpy()
    _relabel(joined, relabel, row["no_box_label"].to_numpy())
    return joined[~(undecided & (row["outcome"] == REVIEW).to_numpy())].reset_index(drop=True)


def _require_detected(manifest: pd.DataFrame, found: pd.DataFrame, where: Path) -> None:
    in_use = manifest["excluded"].fillna("") == "" if "excluded" in manifest else True
    missing = manifest.loc[in_use & ~manifest["id"].isin(found.index), "id"]
    if len(missing):
        raise DataError(f"{where}: {len(missing)} images in use were never detected "
                        f"(e.g. {missing.iloc[0]}); run `taxonomist detect` after ingest")


def _has_box(manifest: pd.DataFrame) -> pd.Series:
    if not set(BBOX_COLUMNS) <= set(manifest.columns):
        return pd.Series(False, index=manifest.index)
    return manifest[list(BBOX_COLUMNS)].notna().all(axis=1)


def _decided_by_people(manifest: pd.DataFrame) -> pd.Series:
    if "label_source" not in manifest.columns:
        return pd.Series(False, index=manifest.index)
    return manifest["label_source"].isin(DECIDED_BY_PEOPLE)


def _relabel(manifest: pd.DataFrame, rows: pd.Series, labels) -> None:
    """The detector's class for ``rows``, recorded as its label provenance."""
    manifest.loc[rows, "label"] = labels[rows.to_numpy()]
    if "label_source" in manifest.columns:
        manifest.loc[rows, "label_source"] = DETECTOR
    for column in ("label_workers", "label_agreement"):
        if column in manifest.columns:
            manifest.loc[rows, column] = pd.NA
