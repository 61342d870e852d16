"""Label errors in the train split: a label the stack memorised is invisible to it, so the
out-of-fold doubt speaks for those images; the decisions CSV suggests the likelier label,
and `label apply` takes a suggestion only once the expert accepted it."""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from taxonomist.cli import main
from taxonomist.config import Paths, compose_config
from taxonomist.data import ingest
from taxonomist.errors import DataError
from taxonomist.labels.decisions import apply_decisions
from taxonomist.labels.out_of_fold import PixelNeighbours
from taxonomist.labels.queue import queue_rows, read_crowd
from taxonomist.labels.queue_page import label_queue
from taxonomist.stack.predictor import Prediction
from taxonomist.taxonomy import Taxonomy
from tests.conftest import REPO
from tests.data.conftest import SourceFolder

# Where each digit's ink is: a dark quarter of a light 16 px image.
QUARTERS = {"zero": (0, 0), "six": (0, 8), "one": (8, 0), "four": (8, 8)}
SETS_PER_LEAF, VIEWS = 6, 2
PLANTED = "zero-0"  # both views of this zero labelled one


def drawn(leaf: str, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(200, 256, (16, 16, 3), dtype=np.uint8)
    top, left = QUARTERS[leaf]
    pixels[top:top + 8, left:left + 8] = rng.integers(0, 40, (8, 8, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


@dataclass(frozen=True)
class Planted:
    paths: Paths
    manifest: pd.DataFrame
    wrong: set[str]  # the planted images' ids


@pytest.fixture
def digits() -> Taxonomy:
    return compose_config(REPO / "conf").taxonomy


@pytest.fixture
def planted(tmp_path: Path, digits: Taxonomy) -> Planted:
    """A digits project with the repository's conf/, four digits drawn, every image in
    the train split, one set mislabelled; nothing live."""
    folder, paths = SourceFolder(tmp_path / "incoming"), Paths(tmp_path / "project")
    shutil.copytree(REPO / "conf", paths.conf)
    for n, (leaf, s, v) in enumerate((leaf, s, v) for leaf in QUARTERS
                                     for s in range(SETS_PER_LEAF) for v in range(VIEWS)):
        set_id = f"{leaf}-{s}"
        folder.add(f"{set_id}-{v}.png", "one" if set_id == PLANTED else leaf, drawn(leaf, n),
                   set_id=set_id)
    ingest(folder.source(), digits, paths)
    manifest = pd.read_parquet(paths.manifest)
    manifest[["id"]].assign(split="train").to_parquet(paths.splits, index=False)
    wrong = set(manifest.loc[manifest["set_id"] == PLANTED, "id"])
    return Planted(paths, manifest, wrong)


def memorised(manifest: pd.DataFrame, taxonomy: Taxonomy) -> list[Prediction]:
    """What a stack that fits its train split says of it: each label, sure of it."""
    return [Prediction(taxonomy.path(label)[1:], [0.99, 0.99]) for label in manifest["label"]]


def test_a_memorised_mislabel_in_the_train_split_tops_the_queue(planted: Planted,
                                                                digits: Taxonomy) -> None:
    page = label_queue(planted.manifest, "digit", digits, planted.paths, None, limit=100,
                       out_of_fold=PixelNeighbours(size=8, neighbours=5))
    top = page.rows.head(len(planted.wrong))
    assert set(top["id"]) == planted.wrong
    assert top["likely_error"].all() and set(top["suggestion"]) == {"zero"}
    assert not page.rows["likely_error"].iloc[len(planted.wrong):].any()


def test_without_the_out_of_fold_doubt_a_memorised_mislabel_is_not_queued(
        planted: Planted, digits: Taxonomy) -> None:
    manifest = planted.manifest
    rows = queue_rows(manifest, digits, read_crowd(planted.paths, manifest),
                      dict.fromkeys(manifest["id"], "train"), memorised(manifest, digits))
    assert rows.empty


@pytest.fixture
def decisions_csv(planted: Planted) -> pd.DataFrame:
    """``label queue --limit 4`` run from the command line: its decisions CSV."""
    paths = planted.paths
    assert main(["--config-dir", str(paths.conf), "label", "queue", "--limit", "4"]) == 0
    return pd.read_csv(paths.label_decisions, dtype=str, keep_default_na=False)


def test_the_decisions_csv_suggests_the_likelier_label(decisions_csv: pd.DataFrame,
                                                       planted: Planted) -> None:
    suggested = decisions_csv[decisions_csv["suggested"] == "yes"]
    assert set(suggested["image"]) == planted.wrong
    assert set(suggested["label"]) == {"zero"} and set(suggested["current_label"]) == {"one"}
    others = decisions_csv[decisions_csv["suggested"] == ""]
    assert (others["label"] == others["current_label"]).all()


def test_label_apply_takes_a_suggestion_only_once_accepted(decisions_csv: pd.DataFrame,
                                                           planted: Planted,
                                                           digits: Taxonomy) -> None:
    paths, file = planted.paths, planted.paths.label_decisions
    expert = paths.labels / "expert.csv"
    with pytest.raises(DataError, match=r"decisions.csv line 2 \(and 1 more rows\): label "
                       r"'zero' is the models' suggestion"):
        apply_decisions(file, planted.manifest, digits, paths)
    assert not expert.exists()
    assert apply_decisions(file, planted.manifest, digits, paths, accept_suggestions=True) == 4
    landed = pd.read_csv(expert, dtype=str).set_index("id")["label"]
    assert set(landed[list(planted.wrong)]) == {"zero"}
    decisions_csv.assign(suggested="").to_csv(file, index=False)  # accepted row by row
    assert apply_decisions(file, planted.manifest, digits, paths) == 4
