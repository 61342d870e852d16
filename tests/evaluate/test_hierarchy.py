"""The stack's hierarchical metrics against values worked out by hand on a small tree."""

from __future__ import annotations

import pandas as pd
import pytest

from taxonomist.evaluate.hierarchy import (
    per_image_hierarchical_f1,
    stack_metrics,
    stack_outcomes,
    stop_table,
)
from taxonomist.taxonomy import Taxonomy

#            digit
#        /          \
#     round        straight
#    /    \        /     \
#  zero   six    one    seven
TREE = Taxonomy.from_tree(
    "digits", {"digit": {"round": ["zero", "six"], "straight": ["one", "seven"]}}
)
# (label, walk): the walk is what the stack chose below the root
CASES = [
    ("zero", ["round", "zero"]),  # 1 right
    ("six", ["round", "zero"]),  # 2 wrong leaf, right family: distance 2
    ("one", ["round", "six"]),  # 3 wrong across the root: distance 4
    ("seven", ["straight"]),  # 4 stopped early on the right branch: distance 1
    ("zero", []),  # 5 the first node was unsure: the answer is the root, distance 2
    ("round", ["round", "six"]),  # 6 labelled only 'round', walked on to 'six': distance 1
]
LABELS = [label for label, _ in CASES]
WALKS = [walk for _, walk in CASES]


@pytest.fixture(scope="module")
def metrics() -> dict[str, object]:
    return stack_metrics(TREE, stack_outcomes(TREE, LABELS, WALKS), WALKS)


def test_outcome_columns_per_image() -> None:
    out = stack_outcomes(TREE, LABELS, WALKS)
    assert out["predicted"].tolist() == ["zero", "zero", "six", "straight", "digit", "six"]
    assert out["distance"].tolist() == [0, 2, 4, 1, 2, 1]
    assert out["reached_leaf"].tolist() == [True, True, True, False, False, True]
    # the answer is the label or an ancestor: 1 (itself), 4 (straight), 5 (the root)
    assert out["on_path"].tolist() == [True, False, False, True, True, False]
    # ancestor sets without the root: |P ∩ T|, |P|, |T|
    assert out["h_overlap"].tolist() == [2, 1, 0, 1, 0, 1]
    assert out["h_predicted"].tolist() == [2, 2, 2, 1, 0, 2]
    assert out["h_true"].tolist() == [2, 2, 2, 2, 2, 1]


def test_hierarchical_precision_recall_f1(metrics: dict[str, object]) -> None:
    # Kiritchenko, micro: sum |P∩T| = 2+1+0+1+0+1 = 5
    assert metrics["hierarchical_precision"] == 0.5556  # 5 / sum|P| = 5 / (2+2+2+1+0+2) = 5/9
    assert metrics["hierarchical_recall"] == 0.4545  # 5 / sum|T| = 5 / (2+2+2+2+2+1) = 5/11
    assert metrics["hierarchical_f1"] == 0.5  # 2PR/(P+R) = 2*5 / (9+11) = 10/20


def test_leaf_accuracy_severity_and_distance(metrics: dict[str, object]) -> None:
    assert metrics["leaf_accuracy"] == 0.2  # leaf-labelled: images 1-5, only 1 right
    assert metrics["mistake_severity"] == 2.25  # leaf mistakes 2,3,4,5: (2+4+1+2)/4
    assert metrics["distance_at_1"] == 1.6667  # all six: (0+2+4+1+2+1)/6 = 10/6


def test_coverage_and_precision_at_stop(metrics: dict[str, object]) -> None:
    assert metrics["coverage"] == 0.6667  # leaves reached by 1,2,3,6: 4/6
    assert metrics["stopped_early"] == 0.3333  # 4 and 5: 2/6
    assert metrics["precision_at_stop"] == 0.5  # on the true path: 1,4,5: 3/6


def test_accuracy_per_depth(metrics: dict[str, object]) -> None:
    # depth 1, all six: round✓ round✓ round✗(one) straight✓ nothing✗ round✓ = 4/6
    assert metrics["accuracy_depth_1"] == 0.6667
    # depth 2, images 1-5 (6's label is at depth 1): zero✓ zero✗ six✗ -✗ -✗ = 1/5
    assert metrics["accuracy_depth_2"] == 0.2
    assert "accuracy_depth_3" not in metrics


def test_per_class_recall(metrics: dict[str, object]) -> None:
    # zero: images 1 (right) and 5 (stopped at the root) = 1/2; the rest wrong
    assert metrics["per_class_recall"] == {"one": 0.0, "seven": 0.0, "six": 0.0, "zero": 0.5}


def test_precision_where_walks_stopped() -> None:
    table = stop_table(stack_outcomes(TREE, LABELS, WALKS))
    assert table.to_dict("records") == [
        {"stopped_at": "digit", "images": 1, "precision": 1.0},  # 5: the root is always right
        {"stopped_at": "six", "images": 2, "precision": 0.0},  # 3 and 6
        {"stopped_at": "straight", "images": 1, "precision": 1.0},  # 4
        {"stopped_at": "zero", "images": 2, "precision": 0.5},  # 1 right, 2 wrong
    ]


def test_per_image_f1_weighted_by_set_sizes_is_the_micro_f1() -> None:
    out = stack_outcomes(TREE, LABELS, WALKS)
    per_image = per_image_hierarchical_f1(out)
    # 2|P∩T|/(|P|+|T|): 4/4, 2/4, 0/4, 2/3, 0/2, 2/3
    assert per_image.round(4).tolist() == [1.0, 0.5, 0.0, 0.6667, 0.0, 0.6667]
    sizes = out["h_predicted"] + out["h_true"]
    assert (per_image * sizes).sum() / sizes.sum() == pytest.approx(0.5)


def test_every_walk_stopped_at_the_root() -> None:
    walks: list[list[str]] = [[], []]
    metrics = stack_metrics(TREE, stack_outcomes(TREE, ["zero", "one"], walks), walks)
    assert metrics["hierarchical_f1"] == 0.0 and metrics["coverage"] == 0.0
    assert metrics["precision_at_stop"] == 1.0  # "a digit" is right, and says nothing
    assert metrics["distance_at_1"] == 2.0


def test_no_images() -> None:
    metrics = stack_metrics(TREE, stack_outcomes(TREE, [], []), [])
    assert metrics["leaf_accuracy"] == 0.0 and metrics["n_test"] == 0
    assert isinstance(stop_table(stack_outcomes(TREE, [], [])), pd.DataFrame)
