from __future__ import annotations

import pytest

from taxonomist.errors import ConfigError
from taxonomist.taxonomy import Taxonomy

CARS = {"vehicle": {"bmw": ["m3", "x5"], "audi": [{"a4": None}, "a6"], "truck": None}}


@pytest.fixture
def cars() -> Taxonomy:
    return Taxonomy.from_tree("cars", CARS)


def test_structure(cars: Taxonomy) -> None:
    assert cars.root == "vehicle"
    assert cars.inner_nodes == ["vehicle", "bmw", "audi"]
    assert cars.leaves == ["truck", "m3", "x5", "a4", "a6"]
    assert cars.path("x5") == ["vehicle", "bmw", "x5"]
    assert cars.depth("a6") == 2


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("m3", "m3", 0), ("m3", "x5", 2), ("m3", "a4", 4), ("m3", "truck", 3), ("bmw", "x5", 1)],
)
def test_distance(cars: Taxonomy, a: str, b: str, distance: int) -> None:
    assert cars.distance(a, b) == distance


@pytest.mark.parametrize(
    ("node", "label", "child"),
    [
        ("vehicle", "x5", "bmw"),
        ("vehicle", "bmw", "bmw"),  # an image labelled only 'bmw' trains the root...
        ("bmw", "bmw", None),  # ...but not the bmw node
        ("bmw", "x5", "x5"),
        ("audi", "x5", None),
    ],
)
def test_child_for_label(cars: Taxonomy, node: str, label: str, child: str | None) -> None:
    assert cars.child_for_label(node, label) == child


def test_as_tree_round_trips(cars: Taxonomy) -> None:
    again = Taxonomy.from_tree("cars", cars.as_tree())
    assert again.children == cars.children


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        (None, "found nothing"),
        ({"a": ["x", "y"], "b": ["z", "w"]}, "found 2 top-level entries"),
        ({"a": [1, 2]}, "class names must be text"),
        ({"a": {"b": ["x", "y"], "c": ["x", "z"]}}, "class 'x' is used twice"),
        ({"a": "x"}, "expected a list or mapping"),
    ],
)
def test_bad_trees(tree, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Taxonomy.from_tree("t", tree, source="conf/taxonomy/t.yaml")
