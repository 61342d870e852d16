"""Walk the taxonomy from the root, one node classifier per level, stopping when unsure."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from taxonomist.evaluate.predict import predict_proba
from taxonomist.taxonomy import Taxonomy
from taxonomist.train.artifact import load_node_model
from taxonomist.train.model import NodeSpec
from taxonomist.train.publish import RUN_FILE

TAXONOMY_FILE = "taxonomy.json"


@dataclass(frozen=True)
class Stop:
    """Why a walk ended above the leaves: at ``node``, the likeliest child ``best`` had
    ``probability`` under the node's ``threshold``."""

    node: str
    best: str
    probability: float
    threshold: float


@dataclass(frozen=True)
class Prediction:
    """One image's walk: the classes chosen from the root's children down, with the
    probability of each choice. It ends early where a node was not confident enough;
    ``stop`` then says where and why (None: the walk reached a leaf)."""

    path: list[str]
    probs: list[float]
    stop: Stop | None = None

    @property
    def label(self) -> str | None:
        return self.path[-1] if self.path else None


class StackPredictor:
    """All node classifiers of a taxonomy as one predictor.

    Args:
        taxonomy: the class tree.
        nodes: a trained (spec, model) per inner node.
        thresholds: per node, the probability under which the walk stops there
            ("sensibly wrong": a confident 'round' beats an unsure 'six').
    """

    def __init__(
        self,
        taxonomy: Taxonomy,
        nodes: dict[str, tuple[NodeSpec, nn.Module]],
        thresholds: dict[str, float],
    ) -> None:
        missing = set(taxonomy.inner_nodes) - set(nodes)
        if missing:
            raise ValueError(f"the stack lacks classifiers for nodes: {sorted(missing)}")
        self.taxonomy, self.nodes, self.thresholds = taxonomy, nodes, thresholds

    @property
    def image_size(self) -> int:
        return max(spec.image_size for spec, _ in self.nodes.values())

    def predict(self, images: np.ndarray) -> list[Prediction]:
        """Predict uint8 images (N, H, W, 3); each node runs once on the images at it."""
        paths: list[list[str]] = [[] for _ in range(len(images))]
        probs: list[list[float]] = [[] for _ in range(len(images))]
        stops: list[Stop | None] = [None] * len(images)
        waiting: dict[str, list[int]] = {self.taxonomy.root: list(range(len(images)))}
        for node in self.taxonomy.inner_nodes:  # breadth first: parents before children
            rows = np.array(sorted(waiting.pop(node, [])), dtype=np.int64)
            if len(rows) == 0:
                continue
            spec, model = self.nodes[node]
            p = predict_proba(model, spec, images[rows])
            for row, best, conf in zip(rows, p.argmax(1), p.max(1), strict=True):
                child = spec.classes[best]
                if conf < self.thresholds[node]:  # not sure enough: the walk ends here
                    stops[row] = Stop(node, child, round(float(conf), 4), self.thresholds[node])
                    continue
                paths[row].append(child)
                probs[row].append(round(float(conf), 4))
                waiting.setdefault(child, []).append(int(row))
        return [Prediction(*walk) for walk in zip(paths, probs, stops, strict=True)]

    def save(self, folder: Path, model_dirs: dict[str, Path]) -> None:
        """Copy every node's weights and spec into ``folder`` with the tree: one unit."""
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for node, source in model_dirs.items():
            shutil.copytree(source, folder / node)
        meta = {
            "name": self.taxonomy.name,
            "tree": self.taxonomy.as_tree(),
            "thresholds": self.thresholds,
        }
        (folder / TAXONOMY_FILE).write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: Path) -> StackPredictor:
        taxonomy, thresholds = _read_tree(folder)
        nodes = {node: load_node_model(folder / node) for node in taxonomy.inner_nodes}
        return cls(taxonomy, nodes, thresholds)


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


def _read_tree(folder: Path) -> tuple[Taxonomy, dict[str, float]]:
    """The taxonomy and the thresholds :meth:`StackPredictor.save` wrote in ``folder``."""
    meta = json.loads((folder / TAXONOMY_FILE).read_text())
    taxonomy = Taxonomy.from_tree(meta["name"], meta["tree"], str(folder / TAXONOMY_FILE))
    return taxonomy, meta["thresholds"]
