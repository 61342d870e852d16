"""No train/serve skew: a stack's saved detector prepares a stored image into exactly the
pixels the cache holds for it, through the real ingest -> detect -> split -> cache path."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from taxonomist.config import Paths, SplitConfig
from taxonomist.contracts.cache import load_node_split
from taxonomist.contracts.detections import DetectedBoxes
from taxonomist.contracts.manifest import BBOX_COLUMNS
from taxonomist.data import build_cache, ingest, read_manifest, split
from taxonomist.data.cropping import WEIGHTS_FILE, Cropper, prepare_images, save_detector
from taxonomist.data.detect import detect
from taxonomist.data.detector import DetectSettings
from taxonomist.data.store import read_stored
from taxonomist.taxonomy import Taxonomy
from tests.data.conftest import SourceFolder
from tests.data.test_detect import add_images, detect_config

pytestmark = pytest.mark.slow  # ingest, detect, split and cache for each test
SIZE = 24
NODE = "shape"


@pytest.fixture
def cached(tmp_path: Path, drawn_box_detector: Path) -> tuple[Paths, DetectSettings]:
    """A project cached with its images cropped to the detector's boxes; the blanks, with
    no box, relabelled (so cached whole)."""
    taxonomy = Taxonomy.from_tree("shapes", {NODE: ["circle", "square"]})
    paths, folder = Paths(tmp_path / "project"), SourceFolder(tmp_path / "incoming")
    add_images(folder)
    ingest(folder.source(), taxonomy, paths)
    cfg = detect_config(drawn_box_detector, no_box="circle")
    settings = DetectSettings.from_config(cfg, taxonomy, Path("/"))
    detect(settings, paths)
    split(SplitConfig(val=0.2, test=0.2), 0, paths, paths.detections)
    build_cache(taxonomy, {NODE: SIZE}, paths, DetectedBoxes(paths.detections, cfg.margin))
    return paths, settings


def _cached_rows(paths: Paths) -> tuple[np.ndarray, pd.DataFrame]:
    splits = [load_node_split(paths, NODE, s) for s in ("train", "val", "test")]
    return (np.concatenate([s.images for s in splits]),
            pd.concat([s.index for s in splits], ignore_index=True))


def test_a_served_image_is_prepared_into_the_pixels_its_cache_row_holds(
    cached: tuple[Paths, DetectSettings], tmp_path: Path
) -> None:
    paths, settings = cached
    stack = tmp_path / "stack"
    stack.mkdir()
    save_detector(stack, settings)
    cropper = Cropper.load(stack)
    images, index = _cached_rows(paths)
    stored = read_manifest(paths.manifest).set_index("id").loc[index["id"], "stored"]

    served, found = prepare_images([read_stored(paths.root / s) for s in stored], SIZE, cropper)

    np.testing.assert_array_equal(served, images)
    boxed = [f.box is not None for f in found]
    assert 0 < sum(boxed) < len(found)  # the drawn objects cropped; the blanks whole
    detected = pd.read_parquet(paths.detections).set_index("id").loc[index["id"]]
    for f, row in zip(found, detected.itertuples(), strict=True):
        assert f.box == (tuple(getattr(row, c) for c in BBOX_COLUMNS) if f.box else None)
        # the detector scores in float32, the detections file keeps float64, and serving
        # may batch the images differently: equal to well within float32's 1e-6
        assert f.score == pytest.approx(row.detect_score, rel=1e-5)


def test_a_stack_without_a_detector_serves_whole_images(
    cached: tuple[Paths, DetectSettings],
) -> None:
    paths, _ = cached
    images, index = _cached_rows(paths)
    stored = read_manifest(paths.manifest).set_index("id").loc[index["id"], "stored"]
    whole, found = prepare_images([read_stored(paths.root / s) for s in stored], SIZE, None)
    assert found == [None] * len(index)
    assert not np.array_equal(whole, images)  # the cache holds crops: it differs


def test_the_saved_detector_keeps_its_weights_and_version_without_the_project(
    cached: tuple[Paths, DetectSettings], tmp_path: Path
) -> None:
    own = tmp_path / "own.pt"
    own.write_bytes(cached[1].weights.read_bytes())
    settings = replace(cached[1], weights=own)
    stack = tmp_path / "stack"
    stack.mkdir()
    save_detector(stack, settings)
    original = own.read_bytes()
    own.unlink()  # the project's file is gone
    cropper = Cropper.load(stack)
    assert (stack / WEIGHTS_FILE).read_bytes() == original
    assert cropper.version == cached[1].version
    assert cropper.settings.margin == settings.margin
    assert cropper.settings.min_score == settings.min_score
    assert Cropper.load(tmp_path) is None  # a folder without a detector: no crop
