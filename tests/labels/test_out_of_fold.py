"""Out-of-fold doubt: each image judged by its nearest neighbours in the other folds, the
folds dealt by set, so no view of an image ever votes with its own label."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from taxonomist.labels.out_of_fold import PixelNeighbours, grey_features, out_of_fold_doubt
from taxonomist.taxonomy import Taxonomy

MODEL = PixelNeighbours(size=2, neighbours=5)
CENTRES = {"circle": (0.9, 0.1, 0.1, 0.1), "oval": (0.1, 0.9, 0.1, 0.1),
           "square": (0.1, 0.1, 0.9, 0.1), "triangle": (0.1, 0.1, 0.1, 0.9)}


def clusters(sets_per_leaf: int, views: int, seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    """Four tight clusters of 4-pixel images, one per leaf; ``views`` per set."""
    rng = np.random.default_rng(seed)
    features, rows = [], []
    for leaf, centre in CENTRES.items():
        for s in range(sets_per_leaf):
            for _ in range(views):
                features.append(np.array(centre) + rng.normal(0, 0.03, 4))
                rows.append({"label": leaf, "set_id": f"{leaf}-{s}"})
    return np.array(features, dtype=np.float32), pd.DataFrame(rows)


def test_a_mislabelled_set_is_doubted_and_the_others_trusted(shapes: Taxonomy) -> None:
    features, rows = clusters(sets_per_leaf=8, views=2)
    rows.loc[rows["set_id"] == "circle-0", "label"] = "square"  # both views
    scored = out_of_fold_doubt(features, rows, "shape", shapes, MODEL)
    wrong = (rows["set_id"] == "circle-0").to_numpy()
    assert (scored.doubt[wrong] > 0.5).all()
    assert (scored.doubt[~wrong] < 0.5).all()
    assert list(scored.likeliest[wrong]) == ["circle", "circle"]


def test_the_folds_keep_a_set_together(shapes: Taxonomy) -> None:
    """Four identical views of a circle, all labelled square: were three of them in the
    other folds, they would be the fourth's nearest neighbours, voting for square."""
    features, rows = clusters(sets_per_leaf=8, views=1)
    copies = np.tile(np.array(CENTRES["circle"], dtype=np.float32) * 0.5, (4, 1))
    features = np.vstack([features, copies])
    rows = pd.concat([rows, pd.DataFrame({"label": ["square"] * 4, "set_id": ["dup"] * 4})],
                     ignore_index=True)
    scored = out_of_fold_doubt(features, rows, "shape", shapes, MODEL)
    assert (scored.doubt[-4:] > 0.5).all()


def test_an_inner_label_is_as_likely_as_its_leaves_together(shapes: Taxonomy) -> None:
    features, rows = clusters(sets_per_leaf=8, views=1)
    rows.loc[0, "label"], rows.loc[1, "label"] = "round", "angular"  # both circles
    scored = out_of_fold_doubt(features, rows, "shape", shapes, MODEL)
    assert scored.doubt[0] < 0.5 < scored.doubt[1]


@pytest.mark.parametrize("sets_per_leaf", [1, 3])
def test_too_few_images_of_a_leaf_give_no_evidence(shapes: Taxonomy, sets_per_leaf) -> None:
    """Fewer images of a leaf in the other folds than a vote has neighbours (5)."""
    features, rows = clusters(sets_per_leaf, views=1)
    scored = out_of_fold_doubt(features, rows, "shape", shapes, MODEL)
    assert np.isnan(scored.doubt).all()
    assert set(scored.likeliest) == {""}


def test_grey_features_are_the_baseline_s_ink() -> None:
    white, black = Image.new("RGB", (6, 6), "white"), Image.new("RGB", (6, 6), "black")
    assert grey_features([white, black], 2).tolist() == [[0.0] * 4, [1.0] * 4]
