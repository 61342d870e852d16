"""`dvc repro` with the detect stage on: ingest -> detect -> split -> validate -> cache in a
fresh repo, then a no-op second run.

The stages run as DVC starts them, in their own processes, so the detector is a real
torchvision one from a weights file: built and never trained (tests/tiny_detector.py),
so that what it finds is the same on every CPU. Untrained, it boxes every image with a
score near 0.5, so ``min_score`` sits far below that and every image is cropped to its
box; whether those boxes hold the drawn rectangles is the in-process tests' concern
(tests/data/test_detect.py), with a detector that finds them exactly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from taxonomist.config import Paths
from taxonomist.contracts.cache import load_node_split
from taxonomist.contracts.manifest import BBOX_COLUMNS
from tests.conftest import REPO
from tests.data.conftest import SourceFolder
from tests.data.test_detect import BLANKS, OBJECTS, add_images
from tests.integration.test_dvc_repro import TINY_CLASSIFIER, run, stages_run
from tests.tiny_detector import BUILDER_ARGS, MODEL, untrained_detector

pytestmark = pytest.mark.slow
OVERRIDES = ["taxonomy=shapes", "data=folder", "data.root=incoming"]
# what a person writes into conf/config.yaml's detect: block for this detector
DETECT = {"enabled": True, "model": MODEL, "weights": "detector.pt", "num_classes": 2,
          "labels": [1], "builder_args": BUILDER_ARGS, "min_score": 0.1}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(REPO / "conf", root / "conf")
    (root / "conf" / "taxonomy" / "shapes.yaml").write_text(
        yaml.safe_dump({"name": "shapes", "tree": {"shape": ["circle", "square"]}}))
    config_file = root / "conf" / "config.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["detect"] |= DETECT
    config_file.write_text(yaml.safe_dump(config | {"classifier_dir": "shape_classifiers"}))
    (root / "conf" / "shape_classifiers").mkdir()
    (root / "conf" / "shape_classifiers" / "_default.yaml").write_text(
        yaml.safe_dump(TINY_CLASSIFIER | {"image_size": 32}))
    untrained_detector(root / "detector.pt")
    incoming = SourceFolder(root / "incoming")
    add_images(incoming)
    incoming.source()  # writes incoming/manifest.csv
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"],
                ["taxonomist", "pipeline", *OVERRIDES]):
        run(cmd, root)
    return root


def test_dvc_repro_detects_then_caches_the_crops_and_a_second_run_does_nothing(
    repo: Path,
) -> None:
    first = run(["dvc", "repro", "cache"], repo).stdout
    assert {"ingest", "detect", "split", "validate", "cache"} <= stages_run(first)

    paths = Paths(repo)
    found = pd.read_parquet(paths.detections).set_index("id")
    assert len(found) == OBJECTS + BLANKS and set(found["outcome"]) == {"box"}
    assert pd.read_csv(paths.detect_review).empty
    cached = pd.concat([load_node_split(paths, "shape", s).index
                        for s in ("train", "val", "test")]).set_index("id")
    assert set(cached.index) == set(found.index)
    assert cached[list(BBOX_COLUMNS)].notna().all(axis=None)  # each cropped to its box
    assert stages_run(run(["dvc", "repro", "cache"], repo).stdout) == set()
