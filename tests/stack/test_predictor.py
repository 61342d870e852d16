from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from torch import nn

from taxonomist.config.schema import Decoding
from taxonomist.stack.calibration import scale
from taxonomist.stack.decoding import decode, stop
from taxonomist.stack.predictor import TAXONOMY_FILE, StackPredictor, Stopping
from taxonomist.taxonomy import Taxonomy
from taxonomist.train.artifact import save_node_model
from taxonomist.train.model import NodeSpec

TREE = {"digit": {"round": ["zero", "six"], "straight": ["one", "seven"]}}


class Brightness(nn.Module):
    """Logits from mean brightness: dark images -> class 0, bright -> class 1.

    ``sharpness`` sets how confident it is, so a test can push a node under threshold.
    """

    def __init__(self, sharpness: float = 50.0) -> None:
        super().__init__()
        self.sharpness = sharpness
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        score = x.mean(dim=(1, 2, 3)) * self.sharpness
        return torch.stack([-score, score], dim=1)


def spec(node: str, classes: list[str]) -> NodeSpec:
    return NodeSpec(node, classes, "fake", 8, [0.5] * 3, [0.5] * 3, threshold=0.5)


def images(*brightness: int) -> np.ndarray:
    return np.stack([np.full((8, 8, 3), b, dtype=np.uint8) for b in brightness])


@pytest.fixture
def taxonomy() -> Taxonomy:
    return Taxonomy.from_tree("digits", TREE)


def predictor(taxonomy: Taxonomy, thresholds=None, sharpness=50.0) -> StackPredictor:
    nodes = {
        n: (spec(n, list(taxonomy.children[n])), Brightness(sharpness))
        for n in taxonomy.inner_nodes
    }
    return StackPredictor(taxonomy, nodes, thresholds or dict.fromkeys(nodes, 0.5))


def test_walks_from_the_root_to_a_leaf(taxonomy: Taxonomy) -> None:
    out = predictor(taxonomy).predict(images(0, 255))
    assert [p.path for p in out] == [["round", "zero"], ["straight", "seven"]]
    assert all(len(p.probs) == 2 and min(p.probs) > 0.99 for p in out)
    assert out[1].label == "seven"


def test_each_node_runs_once_on_only_its_images(taxonomy: Taxonomy) -> None:
    stack = predictor(taxonomy)
    stack.predict(images(0, 0, 255))
    calls = {n: model.calls for n, (_, model) in stack.nodes.items()}
    assert calls == {"digit": 1, "round": 1, "straight": 1}


def test_stops_where_a_node_is_unsure(taxonomy: Taxonomy) -> None:
    thresholds = {"digit": 0.5, "round": 0.999, "straight": 0.5}
    out = predictor(taxonomy, thresholds, sharpness=1.0).predict(images(0, 255))
    assert out[0].path == ["round"]  # round's best guess was under 0.999: stop at round
    assert out[1].path == ["straight", "seven"]


def test_unsure_root_predicts_nothing(taxonomy: Taxonomy) -> None:
    out = predictor(taxonomy, dict.fromkeys(taxonomy.inner_nodes, 1.01)).predict(images(0))
    assert out[0].path == [] and out[0].label is None


def test_missing_node_classifier_is_refused(taxonomy: Taxonomy) -> None:
    with pytest.raises(ValueError, match="lacks classifiers for nodes: \\['straight'\\]"):
        StackPredictor(taxonomy, {"digit": None, "round": None}, {})


def saved_nodes(taxonomy: Taxonomy, folder: Path) -> tuple[dict, dict]:
    """Untrained ``test_resnet`` nodes saved as ``train`` saves them: (nodes, folders)."""
    torch.manual_seed(0)
    nodes, dirs = {}, {}
    for node in taxonomy.inner_nodes:
        classes = list(taxonomy.children[node])
        model = timm.create_model("test_resnet", num_classes=len(classes)).eval()
        node_spec = NodeSpec(node, classes, "test_resnet", 16, [0.5] * 3, [0.25] * 3, 0.0)
        save_node_model(model, node_spec, folder / node)
        nodes[node], dirs[node] = (node_spec, model), folder / node
    return nodes, dirs


BATCH = np.random.default_rng(0).integers(0, 255, (6, 16, 16, 3), dtype=np.uint8)


def test_saved_stack_predicts_like_the_original(taxonomy: Taxonomy, tmp_path: Path) -> None:
    nodes, dirs = saved_nodes(taxonomy, tmp_path)
    original = StackPredictor(taxonomy, nodes, dict.fromkeys(nodes, 0.0))
    original.save(tmp_path / "stack", dirs)
    loaded = StackPredictor.load(tmp_path / "stack")
    assert [p.path for p in loaded.predict(BATCH)] == [p.path for p in original.predict(BATCH)]
    assert [p.probs for p in loaded.predict(BATCH)] == [p.probs for p in original.predict(BATCH)]


def test_temperatures_and_decoding_travel_with_the_stack(
    taxonomy: Taxonomy, tmp_path: Path
) -> None:
    nodes, dirs = saved_nodes(taxonomy, tmp_path)
    stopping = Stopping({"digit": 0.3, "round": 0.0, "straight": 0.6},
                        {"digit": 2.0, "round": 0.5, "straight": 1.0}, Decoding.bayes_risk,
                        {"digit": 0.99, "round": None, "straight": None})
    StackPredictor(taxonomy, nodes, stopping).save(tmp_path / "stack", dirs)
    loaded = StackPredictor.load(tmp_path / "stack")
    assert loaded.stopping == stopping
    raw = StackPredictor(taxonomy, nodes, dict.fromkeys(nodes, 0.0))
    raw_out, out = raw.node_outputs(BATCH, everywhere=True), loaded.node_outputs(BATCH)
    for node, temperature in stopping.temperatures.items():  # bayes_risk: every node ran
        np.testing.assert_allclose(out.probs[node], scale(raw_out.probs[node], temperature),
                                   atol=1e-6)  # float32 networks
    expected = stop(decode(taxonomy, out, Decoding.bayes_risk), stopping.thresholds)
    assert loaded.predict(BATCH) == expected


def test_a_stack_saved_before_calibration_loads_greedy_at_temperature_one(
    taxonomy: Taxonomy, tmp_path: Path
) -> None:
    nodes, dirs = saved_nodes(taxonomy, tmp_path)
    StackPredictor(taxonomy, nodes, dict.fromkeys(nodes, 0.2)).save(tmp_path / "stack", dirs)
    meta_file = tmp_path / "stack" / TAXONOMY_FILE
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({k: meta[k] for k in ("name", "tree", "thresholds")}))
    loaded = StackPredictor.load(tmp_path / "stack")
    assert loaded.stopping == Stopping(dict.fromkeys(nodes, 0.2))
    assert loaded.stopping.decoding is Decoding.greedy and loaded.stopping.temperatures == {}


class Constant(nn.Module):
    """The same probabilities (as logits) for every image; counts the images it saw."""

    def __init__(self, probs: list[float]) -> None:
        super().__init__()
        self.register_buffer("logits", torch.log(torch.tensor(probs)))
        self.images = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.images += len(x)
        return self.logits.expand(len(x), -1)


def constant_stack(taxonomy: Taxonomy, root: list[float], round_: list[float]
                   ) -> StackPredictor:
    probs = {"digit": root, "round": round_, "straight": [0.999, 0.001]}
    nodes = {n: (spec(n, list(taxonomy.children[n])), Constant(p)) for n, p in probs.items()}
    return StackPredictor(taxonomy, nodes, Stopping(dict.fromkeys(nodes, 0.0),
                                                    decoding=Decoding.best_path))


def test_best_path_finds_the_likelier_leaf_greedy_leaves_behind(taxonomy: Taxonomy) -> None:
    # greedy: round (0.55), then zero or six at 0.5 each (0.275); straight/one is 0.45
    stack = constant_stack(taxonomy, [0.55, 0.45], [0.5, 0.5])
    assert [p.label for p in stack.predict(images(0, 255))] == ["one", "one"]
    pruned = decode(taxonomy, stack.node_outputs(images(0)), Decoding.best_path)
    assert pruned == decode(taxonomy, stack.node_outputs(images(0), everywhere=True),
                            Decoding.best_path)


def test_best_path_runs_no_node_that_cannot_hold_a_likelier_leaf(taxonomy: Taxonomy) -> None:
    # round/zero is 0.99 * 0.99 = 0.98: nothing under straight (0.01) can beat it
    stack = constant_stack(taxonomy, [0.99, 0.01], [0.99, 0.01])
    assert [p.label for p in stack.predict(images(0, 0, 255))] == ["zero"] * 3
    assert {n: model.images for n, (_, model) in stack.nodes.items()} == {
        "digit": 3, "round": 3, "straight": 0}
