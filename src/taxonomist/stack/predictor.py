"""Walk the taxonomy from the root, one node classifier per level, stopping when unsure."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch import nn

from taxonomist.config.schema import Decoding
from taxonomist.evaluate.predict import children_from_leaves, predict_leaf_proba, predict_proba
from taxonomist.stack.blending import ancestor_view, blend, leaf_ancestor
from taxonomist.stack.calibration import scale
from taxonomist.stack.decoding import NodeOutputs, Prediction, Stop, decode, refused, stop
from taxonomist.stack.familiarity import Familiarity, pre_logits
from taxonomist.taxonomy import Taxonomy
from taxonomist.train.artifact import load_node_model
from taxonomist.train.model import NodeSpec
from taxonomist.train.publish import RUN_FILE


@dataclass(frozen=True)
class _Filling:
    """Node outputs being filled in: per node, its probabilities of its children and (if
    trained on leaves) of its leaves, NaN rows where it has not run."""

    probs: dict[str, np.ndarray]
    leaf_probs: dict[str, np.ndarray]


__all__ = ["Prediction", "Stop", "StackPredictor", "Stopping", "NodeVersion", "node_versions"]

TAXONOMY_FILE = "taxonomy.json"


@dataclass(frozen=True)
class Stopping:
    """How the stack turns node probabilities into an answer (all saved with it).

    Attributes:
        thresholds: per node, the probability under which the walk stops there
            ("sensibly wrong": a confident 'round' beats an unsure 'six").
        temperatures: per node, what its logits are divided by (1.0: as trained).
        decoding: how the class a walk heads for is picked.
        targets: per node, the target precision its threshold was chosen for, or None
            (hand-set); a record, not used to predict.
        ancestor_weights: per node, how much its probabilities lean on its nearest
            ancestor trained on leaves, before its temperature (:mod:`~.blending`; 0 or
            absent: the node alone).
    """

    thresholds: Mapping[str, float]
    temperatures: Mapping[str, float] = field(default_factory=dict)
    decoding: Decoding = Decoding.greedy
    targets: Mapping[str, float | None] = field(default_factory=dict)
    ancestor_weights: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"thresholds": dict(self.thresholds), "temperatures": dict(self.temperatures),
                "decoding": self.decoding.value, "targets": dict(self.targets),
                "ancestor_weights": dict(self.ancestor_weights)}

    @classmethod
    def from_json(cls, meta: Mapping) -> Stopping:
        """A stack saved before calibration has thresholds only: temperature 1, greedy;
        one saved before blending, no node leaning on an ancestor."""
        return cls(meta["thresholds"], meta.get("temperatures", {}),
                   Decoding(meta.get("decoding", Decoding.greedy)), meta.get("targets", {}),
                   meta.get("ancestor_weights", {}))


class StackPredictor:
    """All node classifiers of a taxonomy as one predictor.

    Args:
        taxonomy: the class tree.
        nodes: a trained (spec, model) per inner node.
        thresholds: per node, the probability under which the walk stops there; or a
            whole :class:`Stopping` (temperatures and decoding too).
        familiarity: refuse images unlike the root's training images (None: answer all).
    """

    def __init__(
        self,
        taxonomy: Taxonomy,
        nodes: dict[str, tuple[NodeSpec, nn.Module]],
        thresholds: Mapping[str, float] | Stopping,
        familiarity: Familiarity | None = None,
    ) -> None:
        missing = set(taxonomy.inner_nodes) - set(nodes)
        if missing:
            raise ValueError(f"the stack lacks classifiers for nodes: {sorted(missing)}")
        self.taxonomy, self.nodes, self.familiarity = taxonomy, nodes, familiarity
        self.stopping = thresholds if isinstance(thresholds, Stopping) else Stopping(thresholds)

    @property
    def thresholds(self) -> Mapping[str, float]:
        return self.stopping.thresholds

    @property
    def image_size(self) -> int:
        return max(spec.image_size for spec, _ in self.nodes.values())

    def predict(self, images: np.ndarray) -> list[Prediction]:
        """Predict uint8 images (N, H, W, 3); each node runs once on the images at it."""
        outputs = self.node_outputs(images)
        walks = stop(decode(self.taxonomy, outputs, self.stopping.decoding), self.thresholds)
        if self.familiarity is None or not len(images):
            return walks
        root = self.taxonomy.root
        unlike = self.familiarity.refuses(self.root_features(images))
        return [refused(walk, root, self.thresholds[root]) if refuse else walk
                for walk, refuse in zip(walks, unlike, strict=True)]

    def root_features(self, images: np.ndarray) -> np.ndarray:
        """The root head's input features of uint8 images (what familiarity measures)."""
        spec, model = self.nodes[self.taxonomy.root]
        return pre_logits(model, spec, images)

    def node_outputs(self, images: np.ndarray, everywhere: bool = False) -> NodeOutputs:
        """Every node's calibrated probabilities (NaN rows where it did not run).

        Args:
            images: uint8 (N, H, W, 3).
            everywhere: run every node on every image (always so for ``bayes_risk``,
                which weighs every leaf). Else each node runs on the images whose greedy
                path (each node's likeliest child) reaches it; with ``best_path`` also
                on those where the path down to it is likelier than the greedy path's
                leaf: a path's probability only falls on the way down, so nowhere else
                can a likelier leaf lie.
        """
        n = len(images)
        classes = {node: self.nodes[node][0].classes for node in self.taxonomy.inner_nodes}
        filling = _Filling(
            {node: np.full((n, len(c)), np.nan) for node, c in classes.items()},
            {node: np.full((n, len(spec.leaves)), np.nan)
             for node, (spec, _) in self.nodes.items() if spec.leaves is not None})
        if everywhere or self.stopping.decoding is Decoding.bayes_risk:
            for node in self.taxonomy.inner_nodes:
                self._fill(node, np.arange(n), images, filling)
        else:
            self._fill_greedy(images, filling)
            if self.stopping.decoding is Decoding.best_path:
                self._fill_likelier(images, filling, NodeOutputs(classes, filling.probs))
        return NodeOutputs(classes, filling.probs)

    def _fill_greedy(self, images: np.ndarray, filling: _Filling) -> None:
        """Each node on the images whose greedy path reaches it; breadth first, so an
        ancestor has run on every row that reaches its descendants."""
        waiting: dict[str, list[int]] = {self.taxonomy.root: list(range(len(images)))}
        for node in self.taxonomy.inner_nodes:
            rows = np.array(sorted(waiting.pop(node, [])), int)
            self._fill(node, rows, images, filling)
            classes = self.nodes[node][0].classes
            for row, best in zip(rows, filling.probs[node][rows].argmax(1), strict=True):
                waiting.setdefault(classes[best], []).append(int(row))

    def _fill_likelier(self, images: np.ndarray, filling: _Filling, greedy: NodeOutputs
                       ) -> None:
        """Each node on the images where the path down to it is likelier than the greedy
        path's leaf (``greedy``: the outputs so far)."""
        bound = np.array([np.prod([s.probability for s in steps])
                          for steps in decode(self.taxonomy, greedy, Decoding.greedy)])
        reach = {self.taxonomy.root: np.ones(len(images))}  # the path's probability so far
        for node in self.taxonomy.inner_nodes:  # NaN (a parent never ran) compares False
            self._fill(node, np.flatnonzero(reach[node] > bound), images, filling)
            for k, child in enumerate(self.nodes[node][0].classes):
                if self.taxonomy.children[child]:
                    reach[child] = reach[node] * filling.probs[node][:, k]

    def _fill(self, node: str, rows: np.ndarray, images: np.ndarray, filling: _Filling
              ) -> None:
        """``node``'s calibrated probabilities on those ``rows`` it has not run on yet."""
        rows = rows[np.isnan(filling.probs[node][rows, 0])]
        if not len(rows):
            return
        ancestor = self._leant_on(node)
        view = None if ancestor is None else (ancestor, filling.leaf_probs[ancestor][rows])
        raw, leaves = self._raw_proba(node, images[rows], view)
        if leaves is not None:
            filling.leaf_probs[node][rows] = leaves
        filling.probs[node][rows] = scale(raw, self.stopping.temperatures.get(node, 1.0))

    def node_probabilities(self, node: str, images: np.ndarray) -> np.ndarray:
        """One node's calibrated probabilities of its children (N, len(classes)) for
        uint8 images (N, H, W, 3), whichever way the walk would have gone above it (the
        ancestor it leans on, if any, runs on them too)."""
        own, seen = self.opinions(node, images, leaning=True)
        raw = own if seen is None else blend(own, seen, self.stopping.ancestor_weights[node])
        return scale(raw, self.stopping.temperatures.get(node, 1.0))

    def opinions(self, node: str, images: np.ndarray, leaning: bool = False
                 ) -> tuple[np.ndarray, np.ndarray | None]:
        """``node``'s own probabilities of its children on uint8 ``images``, and its
        leaf-trained ancestor's view of them (None: it has none, or with ``leaning``,
        its weight is 0), both before any temperature."""
        own, _ = self._raw_proba(node, images, None)
        ancestor = self._leant_on(node) if leaning else self._leaf_ancestor(node)
        if ancestor is None:
            return own, None
        spec, model = self.nodes[ancestor]
        leaves = predict_leaf_proba(model, spec, images)
        return own, ancestor_view(self.taxonomy, self.nodes[node][0].classes, spec.leaves,
                                  leaves)

    def _leant_on(self, node: str) -> str | None:
        """The leaf-trained ancestor ``node``'s probabilities lean on (None: alone)."""
        if not self.stopping.ancestor_weights.get(node, 0.0):
            return None
        return self._leaf_ancestor(node)

    def _leaf_ancestor(self, node: str) -> str | None:
        on_leaves = {name for name, (spec, _) in self.nodes.items() if spec.leaves is not None}
        return leaf_ancestor(self.taxonomy, node, on_leaves)

    def _raw_proba(self, node: str, images: np.ndarray,
                   view: tuple[str, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray | None]:
        """``node``'s probabilities of its children on ``images``, before its temperature,
        blended with ``view`` (an ancestor and its leaf probabilities on the same images);
        and its own leaf probabilities if it was trained on leaves."""
        spec, model = self.nodes[node]
        leaves = None
        if spec.leaves is None:
            own = predict_proba(model, spec, images)
        else:
            leaves = predict_leaf_proba(model, spec, images)
            own = children_from_leaves(leaves, spec)
        if view is None:
            return own, leaves
        ancestor, ancestor_leaves = view
        seen = ancestor_view(self.taxonomy, spec.classes, self.nodes[ancestor][0].leaves,
                             ancestor_leaves)
        return blend(own, seen, self.stopping.ancestor_weights[node]), leaves

    def save(self, folder: Path, model_dirs: dict[str, Path]) -> None:
        """Copy every node's weights and spec into ``folder`` with the tree: one unit."""
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for node, source in model_dirs.items():
            shutil.copytree(source, folder / node)
        meta = {"name": self.taxonomy.name, "tree": self.taxonomy.as_tree(),
                **self.stopping.to_json()}
        (folder / TAXONOMY_FILE).write_text(json.dumps(meta, indent=2))
        if self.familiarity is not None:
            self.familiarity.save(folder)

    @classmethod
    def load(cls, folder: Path) -> StackPredictor:
        taxonomy, stopping = _read_tree(folder)
        nodes = {node: load_node_model(folder / node) for node in taxonomy.inner_nodes}
        return cls(taxonomy, nodes, stopping, Familiarity.load(folder))


@dataclass(frozen=True)
class NodeVersion:
    """The registered model and version a stack's node classifier was trained as."""

    model: str
    version: str


def node_versions(folder: Path) -> dict[str, NodeVersion]:
    """Per inner node of the stack saved in ``folder``, the version it was built from.

    Read from each node's ``run.json`` (written when the node was published); a node
    without one (a stack saved by hand) gets empty strings rather than a guess.
    """
    taxonomy, _ = _read_tree(folder)
    found = {}
    for node in taxonomy.inner_nodes:
        run_file = folder / node / RUN_FILE
        run = json.loads(run_file.read_text()) if run_file.is_file() else {}
        found[node] = NodeVersion(run.get("registered_model", ""), str(run.get("version", "")))
    return found


def _read_tree(folder: Path) -> tuple[Taxonomy, Stopping]:
    """The taxonomy and the stopping rule :meth:`StackPredictor.save` wrote in ``folder``."""
    meta = json.loads((folder / TAXONOMY_FILE).read_text())
    taxonomy = Taxonomy.from_tree(meta["name"], meta["tree"], str(folder / TAXONOMY_FILE))
    return taxonomy, Stopping.from_json(meta)
