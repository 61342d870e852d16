"""The detect stage: find the object in every image in use before the cache crops to it.

Writes ``data/detections.parquet`` (the format is :mod:`taxonomist.contracts.detections`)
and ``reports/detect/review.csv``: the images held out of the splits because the detector
found no box in them (``detect.no_box: review``). It is incremental: an image whose bytes
(its id) and detector setup are those of its last detection is not detected again, so a
re-ingest that brings a few new images runs the model on those only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
from tqdm import tqdm

from taxonomist.config import Paths
from taxonomist.contracts.detections import (
    BOX,
    DETECTION_COLUMNS,
    LABEL,
    REVIEW,
    REVIEW_COLUMNS,
    read_detections,
    with_detections,
)
from taxonomist.contracts.files import write_atomic
from taxonomist.contracts.manifest import BBOX_COLUMNS, in_use
from taxonomist.data.cropping import whole_pixel_box
from taxonomist.data.detector import Detector, DetectSettings
from taxonomist.data.manifest import read_manifest
from taxonomist.data.store import read_stored

RAW_COLUMNS = ("id", *BBOX_COLUMNS, "detect_score", "detector", "detect_setup")


@dataclass(frozen=True)
class DetectResult:
    """What one run did: images detected now, reused, and what their detections meant."""

    detected: int
    reused: int
    outcomes: dict[str, int]  # box / review / label -> images
    review: int  # images held out of the splits now (some a person decided meanwhile)

    def summary(self) -> str:
        seen = ", ".join(f"{n} {what}" for what, n in sorted(self.outcomes.items()))
        return (f"detect: {self.detected} images detected, {self.reused} unchanged ({seen}); "
                f"{self.review} held out for review")


def detect(settings: DetectSettings, paths: Paths) -> DetectResult:
    """Detect the object in every image in use; write the detections and the review list.

    Args:
        settings: the checked ``detect:`` block (:meth:`DetectSettings.from_config`).
        paths: reads ``manifest``, the stored images and the last ``detections``; writes
            ``detections`` and ``detect_review``.

    Raises:
        DataError: the manifest is missing, or a stored image is missing or undecodable.
        ConfigError: the weights do not fit the model.
    """
    manifest = in_use(read_manifest(paths.manifest))
    kept = _reusable(paths, settings.setup, manifest["id"])
    todo = manifest[~manifest["id"].isin(kept["id"])]
    fresh = _detect_rows(settings, todo, paths) if len(todo) else pd.DataFrame()
    raw = pd.concat([kept, fresh], ignore_index=True) if len(fresh) else kept
    detections = _decide(raw.reset_index(drop=True), settings)
    write_atomic(paths.detections, lambda tmp: detections.to_parquet(tmp, index=False))
    held_out = _write_review(manifest, paths)
    outcomes = detections["outcome"].value_counts().to_dict()
    return DetectResult(len(todo), len(kept), outcomes, held_out)


def _reusable(paths: Paths, setup: str, ids: pd.Series) -> pd.DataFrame:
    """Last run's raw detections of images still in use, by the same detector setup."""
    if not paths.detections.is_file():
        return pd.DataFrame({c: [] for c in RAW_COLUMNS})
    last = read_detections(paths.detections)
    same = (last["detect_setup"] == setup) & last["id"].isin(ids)
    return last.loc[same, list(RAW_COLUMNS)].reset_index(drop=True)


def _detect_rows(settings: DetectSettings, rows: pd.DataFrame, paths: Paths) -> pd.DataFrame:
    """Run the model over ``rows``' stored images, a batch at a time."""
    detector = Detector(settings)
    version, setup = settings.version, settings.setup
    found = []
    bar = tqdm(total=len(rows), desc="detect", unit="img")
    for batch in _batches(rows, settings.batch_size):
        images = [read_stored(paths.root / stored) for stored in batch["stored"]]
        for image_id, image, (box, score) in zip(
            batch["id"], images, detector.best_boxes(images), strict=True
        ):
            corners = whole_pixel_box(box, image.size) or (None,) * 4
            found.append({"id": image_id, **dict(zip(BBOX_COLUMNS, corners, strict=True)),
                          "detect_score": score, "detector": version, "detect_setup": setup})
        bar.update(len(batch))
    bar.close()
    return pd.DataFrame(found, columns=list(RAW_COLUMNS))


def _batches(rows: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(rows), size):
        yield rows.iloc[start:start + size]


def _decide(raw: pd.DataFrame, settings: DetectSettings) -> pd.DataFrame:
    """What each raw detection means under ``min_score`` and ``no_box``."""
    boxed = raw["bbox_x0"].notna() & (raw["detect_score"] >= settings.min_score)
    no_box = REVIEW if settings.no_box == REVIEW else LABEL
    label = "" if no_box == REVIEW else settings.no_box
    decided = raw.assign(outcome=boxed.map({True: BOX, False: no_box}),
                         no_box_label=boxed.map({True: "", False: label}))
    for column in BBOX_COLUMNS:
        decided[column] = decided[column].astype("Int64")
    decided["detect_score"] = decided["detect_score"].astype("float64")
    return decided[list(DETECTION_COLUMNS)]


def _write_review(manifest: pd.DataFrame, paths: Paths) -> int:
    """List the images the splits will leave out (as :func:`with_detections` decides)."""
    kept = with_detections(manifest, paths.detections)["id"]
    held = manifest[~manifest["id"].isin(kept)]
    scores = held["id"].map(read_detections(paths.detections).set_index("id")["detect_score"])
    review = held.assign(detect_score=scores)[list(REVIEW_COLUMNS)]
    paths.detect_review.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(paths.detect_review, lambda tmp: review.to_csv(tmp, index=False))
    return len(review)
