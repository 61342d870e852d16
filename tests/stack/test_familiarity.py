"""Refusing images unlike the root's training images (``stopping.unfamiliar_quantile``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from taxonomist.stack.decoding import Prediction, Stop, refused
from taxonomist.stack.familiarity import FAMILIARITY_FILE, Familiarity, fit_familiarity
from taxonomist.stack.predictor import StackPredictor
from taxonomist.taxonomy import Taxonomy
from tests.stack.test_predictor import TREE, saved_nodes

RNG = np.random.default_rng(0)


def test_the_distance_is_to_the_nearest_class_mean() -> None:
    near = Familiarity(np.array([[0.0, 0.0], [10.0, 0.0]]), np.eye(2), limit=30.0, quantile=1.0)
    points = np.array([[3.0, 4.0], [9.0, 1.0], [5.0, 6.0]])
    assert near.distances(points) == pytest.approx([25.0, 2.0, 61.0])  # as far from both means
    assert list(near.refuses(points)) == [False, False, True]
    stretched = Familiarity(np.zeros((1, 2)), np.diag([1.0, 0.25]), 30.0, 1.0)
    assert stretched.distances(np.array([[0.0, 4.0]])) == pytest.approx([4.0])  # 16 / 4


def test_the_limit_is_the_quantile_of_val_distances() -> None:
    classes = np.repeat([0, 1], 200)
    train = RNG.normal(size=(400, 3)) + np.where(classes[:, None] == 0, 0.0, 8.0)
    val = RNG.normal(size=(100, 3)) + 8.0
    fitted = fit_familiarity(train, classes, val, quantile=0.9)
    assert fitted.means == pytest.approx(np.array([[0.0] * 3, [8.0] * 3]), abs=0.3)
    assert fitted.limit == pytest.approx(np.quantile(fitted.distances(val), 0.9))
    assert fitted.refuses(val).mean() == pytest.approx(0.1, abs=0.011)
    assert fitted.refuses(np.array([[4.0, 4.0, 4.0]])).all()  # between the classes


def test_it_is_saved_as_arrays_and_loaded_without_pickle(tmp_path: Path) -> None:
    kept = Familiarity(np.ones((2, 3)), np.eye(3), 7.5, 0.999)
    kept.save(tmp_path)
    loaded = Familiarity.load(tmp_path)
    assert loaded.limit == 7.5 and loaded.quantile == 0.999
    assert (loaded.means == kept.means).all() and (loaded.precision == kept.precision).all()
    np.savez(tmp_path / FAMILIARITY_FILE, means=np.array([{"evil": 1}], dtype=object),
             precision=np.eye(3), limit=1.0, quantile=1.0)
    with pytest.raises(ValueError, match="allow_pickle"):
        Familiarity.load(tmp_path)
    assert Familiarity.load(tmp_path / "none") is None  # a stack saved without one


def smooth(n: int) -> np.ndarray:
    """Images like the 'training' ones: flat grey levels with a little noise."""
    levels = RNG.integers(30, 220, (n, 1, 1, 1))
    return np.clip(levels + RNG.integers(-8, 8, (n, 16, 16, 3)), 0, 255).astype(np.uint8)


def test_the_stack_refuses_noise_before_the_walk(tmp_path: Path) -> None:
    taxonomy = Taxonomy.from_tree("digits", TREE)
    nodes, dirs = saved_nodes(taxonomy, tmp_path)
    answering = StackPredictor(taxonomy, nodes, dict.fromkeys(nodes, 0.0))
    train, val = smooth(60), smooth(30)
    familiarity = fit_familiarity(answering.root_features(train), np.repeat([0, 1, 2], 20),
                                  answering.root_features(val), quantile=1.0)
    stack = StackPredictor(taxonomy, nodes, dict.fromkeys(nodes, 0.0), familiarity)
    noise = RNG.integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    assert all(len(walk.path) == 2 for walk in answering.predict(noise))  # it answers noise
    assert [walk.stop.reason for walk in stack.predict(noise)] == ["unfamiliar"] * 5
    assert all(walk.path == [] and walk.stop.node == "digit" for walk in stack.predict(noise))
    assert all(walk.stop is None for walk in stack.predict(val))  # within the limit: walks
    stack.save(tmp_path / "stack", dirs)
    loaded = StackPredictor.load(tmp_path / "stack")
    assert [w.stop.reason for w in loaded.predict(noise)] == ["unfamiliar"] * 5


def test_a_refused_walk_keeps_what_the_root_would_have_said() -> None:
    walked = refused(Prediction(["round", "zero"], [0.97, 0.99]), "digit", 0.5)
    assert walked == Prediction([], [], Stop("digit", "round", 0.97, 0.5, "unfamiliar"))
    unsure = refused(Prediction([], [], Stop("digit", "round", 0.4, 0.5)), "digit", 0.5)
    assert unsure.stop == Stop("digit", "round", 0.4, 0.5, "unfamiliar")
