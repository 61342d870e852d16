"""BBoxCropJitter gets the detector's real boxes through the real path: detect -> split ->
cache (crops) -> node_split -> NodeDataModule's batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from taxonomist.config import Paths, SplitConfig
from taxonomist.contracts.cache import load_node_split
from taxonomist.contracts.detections import DetectedBoxes
from taxonomist.data import build_cache, ingest, split
from taxonomist.data.detect import detect
from taxonomist.data.detector import DetectSettings
from taxonomist.taxonomy import Taxonomy
from taxonomist.train.datamodule import NodeDataModule, node_split
from taxonomist.train.extra_augment import BBoxCropJitter
from tests.data.conftest import SourceFolder
from tests.data.test_detect import add_images, detect_config

SIZE = 32


@pytest.mark.slow  # ingest, detect, split, cache and a data loader
def test_bbox_crop_jitter_receives_the_detected_boxes_in_crop_pixels(
    tmp_path: Path, drawn_box_detector: Path
) -> None:
    taxonomy = Taxonomy.from_tree("shapes", {"shape": ["circle", "square"]})
    paths, folder = Paths(tmp_path / "project"), SourceFolder(tmp_path / "incoming")
    add_images(folder)
    ingest(folder.source(), taxonomy, paths)
    cfg = detect_config(drawn_box_detector, no_box="circle")
    detect(DetectSettings.from_config(cfg, taxonomy, Path("/")), paths)
    split(SplitConfig(val=0.2, test=0.2), 0, paths, paths.detections)
    build_cache(taxonomy, {"shape": SIZE}, paths, DetectedBoxes(paths.detections, cfg.margin))

    train = node_split(load_node_split(paths, "shape", "train"), taxonomy, "shape")
    val = node_split(load_node_split(paths, "shape", "val"), taxonomy, "shape")
    loader = NodeDataModule(train, val, 2, batch_size=64, balance="none").train_dataloader()
    images, _, boxes = next(iter(loader))

    boxed = torch.isfinite(boxes).all(dim=1)
    assert boxed.sum() >= 4 and (~boxed).any()  # the drawn objects; the relabelled blanks
    assert ((boxes[boxed] >= 0) & (boxes[boxed] <= SIZE)).all()
    x = images.permute(0, 3, 1, 2).float() / 255
    # no jitter: each image is cut to its box exactly, which is never the whole crop
    jittered = BBoxCropJitter(jitter=0.0)(x, boxes)
    changed = (jittered - x).abs().flatten(1).amax(dim=1) > 0
    assert changed[boxed].all() and not changed[~boxed].any()
    assert np.isfinite(jittered.numpy()).all()
