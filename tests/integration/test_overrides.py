"""Overrides that last, through the real `dvc repro`: a user's own folder per class.

`taxonomist pipeline taxonomy=shapes data=folder data.root=PHOTOS` on a folder of drawn
circles and squares (no manifest CSV: labels from the folders, dates from EXIF), then a
plain `dvc repro`; then one more override, and only what it affects runs again.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import ExifTags, Image, ImageDraw

from tests.conftest import REPO
from tests.integration.test_dvc_repro import TINY_CLASSIFIER, run, stages_run

pytestmark = pytest.mark.slow
PER_CLASS = 12
OVERRIDES = ["taxonomy=shapes", "data=folder"]


def draw(shape: str, seed: int) -> Image.Image:
    """A shape on noise: the noise keeps every image's perceptual hash far from the rest."""
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 90, (32, 32, 3), np.uint8))
    x0, y0 = rng.integers(2, 10, 2)
    box = (int(x0), int(y0), int(x0) + 18, int(y0) + 18)
    pen = ImageDraw.Draw(image)
    (pen.ellipse if shape == "circle" else pen.rectangle)(box, fill=(250, 250, 250))
    return image


def write_photos(root: Path) -> None:
    """root/<label>/<n>.jpg, each with an EXIF DateTimeOriginal in May 2024."""
    for c, shape in enumerate(("circle", "square")):
        (root / shape).mkdir(parents=True)
        for i in range(PER_CLASS):
            exif = Image.Exif()
            exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = (
                f"2024:05:{i + 1:02d} 12:00:00")
            draw(shape, 100 * c + i).save(root / shape / f"{i:02d}.jpg", exif=exif, quality=95)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    write_photos(root)
    return root


@pytest.fixture(scope="module")
def repo(tmp_path_factory, photos: Path) -> Path:
    root = tmp_path_factory.mktemp("own-images")
    shutil.copytree(REPO / "conf", root / "conf")
    classifiers = root / "conf" / "classifiers"
    shutil.rmtree(classifiers)
    classifiers.mkdir()
    (classifiers / "_default.yaml").write_text(yaml.safe_dump(TINY_CLASSIFIER))
    (root / "conf" / "taxonomy" / "shapes.yaml").write_text(
        "name: shapes\ntree:\n  shape: [circle, square]\n")
    promotion = root / "conf" / "promotion" / "default.yaml"
    promotion.write_text(promotion.read_text().replace("min_metric: 0.5 ", "min_metric: 0.0 "))
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    run(["git", "init", "-q"], root)
    run(["dvc", "init", "-q"], root)
    run(["taxonomist", "pipeline", *OVERRIDES, f"data.root={photos}"], root)
    commit(root, "own images")
    return root


def commit(root: Path, message: str) -> None:
    run(["git", "add", "-A"], root)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", message], root)


def changed_stages(repo: Path) -> set[str]:
    return set(json.loads(run(["dvc", "status", "--json"], repo).stdout))


@pytest.fixture(scope="module")
def first_run(repo: Path) -> str:
    return run(["dvc", "repro"], repo).stdout


def test_overrides_are_recorded_in_conf(repo: Path, photos: Path) -> None:
    recorded = yaml.safe_load((repo / "conf" / "overrides.yaml").read_text())
    assert recorded["overrides"] == [*OVERRIDES, f"data.root={photos}"]
    assert f"data.root={photos}" in (repo / "params.yaml").read_text().splitlines()[1]


def test_dvc_repro_runs_on_the_overridden_source(repo: Path, first_run: str) -> None:
    assert {"config", "ingest", "train@shape", "stack", "promote"} <= stages_run(first_run)
    manifest = pd.read_parquet(repo / "data" / "manifest.parquet")
    assert sorted(manifest["label"].unique()) == ["circle", "square"]
    assert len(manifest) == 2 * PER_CLASS
    assert manifest["taken_at"].str.startswith("2024-05-").all()  # from EXIF
    assert json.loads((repo / "reports" / "promotion.json").read_text())["decision"]


def test_another_override_reruns_only_what_it_affects(
    repo: Path, photos: Path, first_run: str
) -> None:
    assert changed_stages(repo) == set()
    output = run(["taxonomist", "pipeline", "classifiers.shape.epochs=2"], repo).stdout
    assert f"keeping the overrides recorded in conf/overrides.yaml: {OVERRIDES[0]}" in output
    commit(repo, "two epochs")
    # the flat baseline trains with the root's definition, so it follows the root
    assert changed_stages(repo) == {"config", "train@shape", "baseline"}
    ran = stages_run(run(["dvc", "repro"], repo).stdout)
    assert {"train@shape", "evaluate@shape", "stack", "promote", "report", "notify"} <= ran
    assert not {"ingest", "split", "validate", "cache"} & ran
    assert changed_stages(repo) == set()
    elsewhere = photos.parent / "more-photos"
    shutil.copytree(photos, elsewhere)
    run(["taxonomist", "pipeline", f"data.root={elsewhere}"], repo)
    assert changed_stages(repo) == {"config", "ingest"}
