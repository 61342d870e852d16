"""The sample data: scikit-learn's digits as sets of 2-3 views, deterministic."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

from taxonomist.config import DataConfig, Paths
from taxonomist.data import create_source, ingest, write_sample
from taxonomist.errors import DataError
from taxonomist.taxonomy import Taxonomy
from tests.conftest import REPO

SMALL = DataConfig(root="sample", per_class=3)


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.*")}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    write_sample(SMALL, 7, tmp_path / "a")
    write_sample(SMALL, 7, tmp_path / "b")
    write_sample(SMALL, 8, tmp_path / "c")
    assert files(tmp_path / "a") == files(tmp_path / "b")
    assert files(tmp_path / "a")["manifest.csv"] != files(tmp_path / "c")["manifest.csv"]


def test_views_of_one_digit_share_a_set(tmp_path: Path) -> None:
    count = write_sample(SMALL, 0, tmp_path)

    manifest = pd.read_csv(tmp_path / "manifest.csv", dtype=str)
    assert count == len(manifest)
    assert list(manifest.columns) == ["path", "label", "source", "set_id", "taken_at"]
    sets = manifest.groupby("set_id")
    assert len(sets) == 10 * SMALL.per_class
    assert sets.size().between(2, 3).all()
    assert (sets[["label", "source", "taken_at"]].nunique() == 1).all().all()
    first_set = manifest[manifest["set_id"] == manifest["set_id"][0]]
    views = {(tmp_path / p).read_bytes() for p in first_set["path"]}
    assert len(views) == len(first_set), "views of a set differ slightly"


def test_images_are_32px_rgb_and_labels_match_the_digits_taxonomy(tmp_path: Path) -> None:
    write_sample(SMALL, 0, tmp_path)
    manifest = pd.read_csv(tmp_path / "manifest.csv", dtype=str)
    with Image.open(tmp_path / manifest["path"][0]) as image:
        assert (image.size, image.mode, image.format) == ((32, 32), "RGB", "PNG")
    digits = yaml.safe_load((REPO / "conf" / "taxonomy" / "digits.yaml").read_text())
    leaves = Taxonomy.from_tree(digits["name"], digits["tree"]).leaves
    assert sorted(set(manifest["label"])) == sorted(leaves)
    assert pd.to_datetime(manifest["taken_at"], format="%Y-%m-%d").dt.month.nunique() > 1


def test_rerun_clears_stale_images(tmp_path: Path) -> None:
    write_sample(DataConfig(per_class=2), 0, tmp_path)
    (tmp_path / "zero" / "stale.png").write_bytes(b"old")
    write_sample(DataConfig(per_class=1), 0, tmp_path)
    listed = set(pd.read_csv(tmp_path / "manifest.csv")["path"])
    assert {p for p in files(tmp_path) if p.endswith(".png")} == listed


def test_refuses_to_clear_a_folder_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match=r"holds files `taxonomist sample` did not write.*notes"):
        write_sample(SMALL, 0, tmp_path)
    assert (tmp_path / "notes.txt").exists()


def test_sample_ingests_without_rejects(tmp_path: Path) -> None:
    digits = yaml.safe_load((REPO / "conf" / "taxonomy" / "digits.yaml").read_text())
    taxonomy = Taxonomy.from_tree(digits["name"], digits["tree"])
    count = write_sample(SMALL, 0, tmp_path / SMALL.root)

    result = ingest(create_source(SMALL, tmp_path), taxonomy, Paths(tmp_path))

    assert (result.added, result.rejected) == (count, 0)
