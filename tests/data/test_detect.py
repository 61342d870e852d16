"""The detect stage with a detector that boxes the drawn rectangles exactly (and a real
torchvision one where its weights matter): boxes, the review list, relabelling,
the manifest join, incremental runs, the cache's crops, and config errors."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from taxonomist.config import DetectConfig, Paths, SplitConfig
from taxonomist.contracts.cache import load_node_split
from taxonomist.contracts.detections import DETECTOR, DetectedBoxes, with_detections
from taxonomist.data import build_cache, ingest, read_manifest, split
from taxonomist.data.detect import detect
from taxonomist.data.detector import DetectSettings
from taxonomist.errors import ConfigError
from taxonomist.taxonomy import Taxonomy
from tests.data.conftest import SourceFolder
from tests.tiny_detector import BOXES, BUILDER_ARGS, MODEL, RED, drawn, iou, png, untrained_detector

OBJECTS, BLANKS = 8, 4  # images with a drawn rectangle, images of noise alone
MIN_SCORE = 0.5
MARGIN = 0.1
# ingest, detect and often split and cache: several seconds a test on 2 shared cores
trained = pytest.mark.slow


def detect_config(file: Path, **changes) -> DetectConfig:
    cfg = DetectConfig(enabled=True, model=MODEL, weights=str(file), num_classes=2,
                       labels=[1], builder_args=dict(BUILDER_ARGS), min_score=MIN_SCORE,
                       margin=MARGIN, batch_size=4)
    return replace(cfg, **changes)


def settings(file: Path, taxonomy: Taxonomy, **changes) -> DetectSettings:
    return DetectSettings.from_config(detect_config(file, **changes), taxonomy, Path("/"))


def add_images(folder: SourceFolder, start: int = 0, **extra: dict[str, str]) -> None:
    """OBJECTS images with a rectangle at one of BOXES (circle, square), BLANKS without."""
    for i in range(start, start + OBJECTS + BLANKS):
        box = BOXES[i % 2] if i - start < OBJECTS else None
        label = "circle" if box is None or i % 4 < 2 else "square"
        kind = "object" if box else "blank"
        folder.add(f"{kind}{i}.png", label, png(drawn(500 + i, box)), set_id=f"s{i}",
                   **extra.get(f"{kind}{i}.png", {}))


def ids_of(paths: Paths, kind: str) -> set[str]:
    manifest = read_manifest(paths.manifest)
    return set(manifest.loc[manifest["path"].str.startswith(kind), "id"])


@pytest.fixture
def ingested(folder: SourceFolder, taxonomy: Taxonomy, paths: Paths) -> Paths:
    add_images(folder)
    ingest(folder.source(), taxonomy, paths)
    return paths


@trained
def test_detections_land_with_box_score_and_detector_version(
    ingested: Paths, taxonomy: Taxonomy, drawn_box_detector: Path
) -> None:
    result = detect(settings(drawn_box_detector, taxonomy), ingested)

    found = pd.read_parquet(ingested.detections).set_index("id")
    assert (result.detected, result.reused) == (OBJECTS + BLANKS, 0)
    digest = hashlib.sha256(drawn_box_detector.read_bytes()).hexdigest()[:12]
    assert set(found["detector"]) == {f"{MODEL}@{digest}"}
    manifest = read_manifest(ingested.manifest).set_index("id")
    for image_id in ids_of(ingested, "object"):
        row = found.loc[image_id]
        drawn_box = BOXES[int(manifest.loc[image_id, "path"][6:-4]) % 2]
        assert row["outcome"] == "box" and row["detect_score"] >= MIN_SCORE
        box = row[["bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1"]].astype(float).tolist()
        assert iou(box, drawn_box) > 0.3, (box, drawn_box)
    assert set(found.loc[list(ids_of(ingested, "blank")), "outcome"]) == {"review"}


@trained
def test_images_without_a_box_are_listed_for_review_and_left_out_of_the_splits(
    ingested: Paths, taxonomy: Taxonomy, drawn_box_detector: Path
) -> None:
    result = detect(settings(drawn_box_detector, taxonomy), ingested)

    review = pd.read_csv(ingested.detect_review)
    assert list(review.columns) == ["id", "path", "detect_score"]
    assert set(review["id"]) == ids_of(ingested, "blank") and result.review == BLANKS
    assert (review["detect_score"] < MIN_SCORE).all()
    splits = split(SplitConfig(), 0, ingested, ingested.detections)
    assert set(splits["id"]) == ids_of(ingested, "object")


@trained
def test_no_box_as_a_class_relabels_them_and_records_the_detector_as_label_source(
    ingested: Paths, taxonomy: Taxonomy, drawn_box_detector: Path
) -> None:
    detect(settings(drawn_box_detector, taxonomy, no_box="triangle"), ingested)

    assert pd.read_csv(ingested.detect_review).empty
    joined = with_detections(read_manifest(ingested.manifest), ingested.detections)
    blanks = joined[joined["id"].isin(ids_of(ingested, "blank"))]
    assert len(blanks) == BLANKS
    assert set(blanks["label"]) == {"triangle"} and set(blanks["label_source"]) == {DETECTOR}
    splits = split(SplitConfig(), 0, ingested, ingested.detections).set_index("id")
    assert set(splits.loc[list(ids_of(ingested, "blank")), "label"]) == {"triangle"}


@trained
def test_a_box_drawn_by_a_person_and_a_label_an_expert_gave_win_over_the_detector(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths, drawn_box_detector: Path
) -> None:
    person = {"bbox_x0": "1", "bbox_y0": "2", "bbox_x1": "20", "bbox_y1": "21"}
    add_images(folder, **{"object0.png": person, "blank8.png": person,
                          "blank9.png": {"label_source": "expert"}})
    ingest(folder.source(), taxonomy, paths)
    detect(settings(drawn_box_detector, taxonomy), paths)

    joined = with_detections(read_manifest(paths.manifest), paths.detections).set_index("path")
    for path in ("object0.png", "blank8.png"):
        assert joined.loc[path, ["bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1"]].tolist() == \
            [1, 2, 20, 21]
    assert joined.loc["blank9.png", "label"] == "circle"  # kept, though it has no box
    assert "blank10.png" not in joined.index  # an imported label: held out for review
    assert set(pd.read_csv(paths.detect_review)["path"]) == {"blank10.png", "blank11.png"}


@trained
def test_a_second_run_detects_only_the_new_images(
    folder: SourceFolder, ingested: Paths, taxonomy: Taxonomy, drawn_box_detector: Path
) -> None:
    detect(settings(drawn_box_detector, taxonomy), ingested)
    again = detect(settings(drawn_box_detector, taxonomy, min_score=1.0), ingested)
    assert (again.detected, again.reused) == (0, OBJECTS + BLANKS)
    assert again.outcomes == {"review": OBJECTS + BLANKS}  # min_score re-decides, no re-run

    folder.add("late.png", "oval", png(drawn(999, BOXES[0])), set_id="late")
    ingest(folder.source(), taxonomy, ingested)
    later = detect(settings(drawn_box_detector, taxonomy), ingested)
    assert (later.detected, later.reused) == (1, OBJECTS + BLANKS)


def red_share(images: np.ndarray) -> np.ndarray:
    """Per image, the share of its pixels that are the rectangle's red."""
    red = (np.abs(images.astype(int) - RED) < 40).all(axis=-1)
    return red.mean(axis=(1, 2))


@trained
def test_the_cache_crops_each_image_to_its_box_and_keeps_the_box_in_crop_pixels(
    ingested: Paths, taxonomy: Taxonomy, drawn_box_detector: Path
) -> None:
    detect(settings(drawn_box_detector, taxonomy, no_box="oval"), ingested)
    split(SplitConfig(), 0, ingested, ingested.detections)
    sizes = {"shape": 32, "round": 32, "angular": 16}

    build_cache(taxonomy, sizes, ingested, DetectedBoxes(ingested.detections, MARGIN))

    for name in ("train", "val", "test"):
        cached = load_node_split(ingested, "shape", name)
        objects = cached.index["id"].isin(ids_of(ingested, "object")).to_numpy()
        # the whole image is 22% red, its crop to the box (even a loose one) far more
        assert (red_share(cached.images[objects]) > 0.35).all()
        assert (red_share(cached.images[~objects]) == 0).all()  # blanks: whole, unchanged
        boxes = cached.index.loc[objects, ["bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1"]]
        width = (boxes["bbox_x1"] - boxes["bbox_x0"]) / 32
        assert ((boxes >= 0) & (boxes <= 32)).all().all()
        # the box fills 1 / (1 + 2 margin) of the crop, or more where the image ends
        assert width.between(0.8, 1.0).all()
        assert cached.index.loc[~objects, "bbox_x0"].isna().all()


@trained
def test_a_new_margin_rebuilds_the_cache(
    ingested: Paths, taxonomy: Taxonomy, drawn_box_detector: Path
) -> None:
    detect(settings(drawn_box_detector, taxonomy), ingested)
    split(SplitConfig(), 0, ingested, ingested.detections)
    sizes = {"shape": 16, "round": 16, "angular": 16}
    build_cache(taxonomy, sizes, ingested, DetectedBoxes(ingested.detections, MARGIN))
    again = build_cache(taxonomy, sizes, ingested, DetectedBoxes(ingested.detections, 0.3))
    assert again.kept == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model": "fasterrcnn_mobilenet_v3_large_320"},
         r"(?s)detect.model: 'fasterrcnn_mobilenet_v3_large_320' is no builder.*"
         r"did you mean 'fasterrcnn_mobilenet_v3_large_320_fpn'.*ssdlite320_mobilenet_v3_large"),
        ({"weights": "/nowhere/detector.pt"}, r"detect.weights: no file at /nowhere/detector.pt"),
        ({"labels": [2]}, r"detect.labels: expected class ids in 1..1, got \[2\]"),
        ({"labels": []}, r"detect.labels: expected class ids"),
        ({"no_box": "truck"}, r"detect.no_box: 'truck' is neither review nor a class"),
        ({"min_score": 1.5}, r"detect.min_score: expected 0..1, got 1.5"),
        ({"margin": -0.1}, r"detect.margin: expected 0..inf, got -0.1"),
        ({"num_classes": 1}, r"detect.num_classes: expected 2 or more"),
        ({"batch_size": 0}, r"detect.batch_size: expected 1 or more"),
    ],
)
def test_bad_detect_settings_name_the_key_and_what_to_do(
    taxonomy: Taxonomy, tmp_path: Path, changes: dict, message: str
) -> None:
    weights = tmp_path / "detector.pt"
    weights.write_bytes(b"")
    with pytest.raises(ConfigError, match=message):
        settings(weights, taxonomy, **changes)


@trained
def test_weights_of_another_shape_say_which_keys_to_set(
    ingested: Paths, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    weights = untrained_detector(tmp_path / "detector.pt")  # built with num_classes=2
    with pytest.raises(ConfigError, match=r"detect.weights: .* does not fit .*num_classes=3"):
        detect(settings(weights, taxonomy, num_classes=3), ingested)
