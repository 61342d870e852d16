"""A project whose registry holds real stack versions of untrained node classifiers.

The node classifiers are untrained networks (different seeds, so two stacks differ byte
for byte): serving does not care how good a stack is, only that it is a stack registered
exactly as ``dvc repro`` registers one (``build_stack``). The serve tests use tiny
``test_resnet`` nodes; ``bench/serve.py`` the backbone and image size of ``conf/``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import timm
import torch
import yaml

from taxonomist.config import Config, Paths, compose_config
from taxonomist.contracts.cache import STACK, CachedSplit, save_node_split
from taxonomist.stack.build import build_stack
from taxonomist.tracking.client import Client, client_for
from taxonomist.tracking.live_alias import PROMOTE, move_live
from taxonomist.train.artifact import save_node_model
from taxonomist.train.model import NodeSpec
from taxonomist.train.publish import RUN_FILE

REPO = Path(__file__).resolve().parents[2]
TEST_BACKBONE, TEST_SIZE = "test_resnet", 16


@dataclass(frozen=True)
class Registry:
    """A project folder whose registry holds stack ``versions``, the first live."""

    root: Path
    config: Config
    name: str
    versions: tuple[str, ...]

    def client(self) -> Client:
        return client_for(self.config.project.mlflow, Paths(self.root))

    def move_live(self, version: str) -> None:
        move_live(self.client(), self.name, version, reason="test", actor="test", kind=PROMOTE)


def make_registry(root: Path, backbone: str = TEST_BACKBONE, size: int = TEST_SIZE,
                  seeds: tuple[int, ...] = (1, 2), detect: dict | None = None,
                  tracking_uri: str | None = None) -> Registry:
    """``root`` with a copy of ``conf/`` and one stack version per seed, the first live;
    ``detect``: the ``detect:`` keys that turn the project's detector on (its weights
    file relative to ``root``), so each stack bundles it; ``tracking_uri``: the registry
    (default: a sqlite store in ``root/mlflow``)."""
    shutil.copytree(REPO / "conf", root / "conf")
    main = root / "conf" / "config.yaml"
    uri = tracking_uri or f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
    main.write_text(main.read_text().replace("tracking_uri: null", f"tracking_uri: {uri}"))
    if detect:
        config = yaml.safe_load(main.read_text())
        main.write_text(yaml.safe_dump(config | {"detect": config["detect"] | detect}))
    (root / "mlflow").mkdir()
    default = root / "conf" / "classifiers" / "_default.yaml"  # untrained: never sure
    default.write_text(default.read_text().replace("threshold: 0.5", "threshold: 0.0"))
    config, paths = compose_config(root / "conf"), Paths(root)
    _write_test_split(config, paths, size)
    versions = tuple(register_stack(config, paths, seed, backbone, size) for seed in seeds)
    registry = Registry(root, config, f"{config.taxonomy.name}.stack", versions)
    registry.move_live(versions[0])
    return registry


def _write_test_split(config: Config, paths: Paths, size: int) -> None:
    """Noise images of every leaf: the stack's test split and the root's val split (the
    stack's stopping is fitted on it)."""
    leaves = list(config.taxonomy.leaves)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (len(leaves) * 2, size, size, 3), dtype=np.uint8)
    index = pd.DataFrame({
        "id": [f"img{i}" for i in range(len(images))],
        "label": leaves * 2,
        "set_id": [f"set{i}" for i in range(len(images))],
        "source": "test",
        "taken_at": pd.Timestamp("2024-01-01"),
    })
    save_node_split(paths, STACK, "test", CachedSplit(images, index))
    save_node_split(paths, config.taxonomy.root, "val", CachedSplit(images, index))


def register_stack(config: Config, paths: Paths, seed: int, backbone: str = TEST_BACKBONE,
                   size: int = TEST_SIZE) -> str:
    """One more stack version: node folders as ``train`` publishes them (untrained
    weights of ``seed``), then ``build_stack``. Its version."""
    torch.manual_seed(seed)
    for node in config.taxonomy.inner_nodes:
        classes = list(config.taxonomy.children[node])
        model = timm.create_model(backbone, pretrained=False, num_classes=len(classes))
        spec = NodeSpec(node, classes, backbone, size, [0.5] * 3, [0.5] * 3,
                        config.classifiers[node].threshold)
        folder = paths.model_dir(node)
        shutil.rmtree(folder, ignore_errors=True)
        save_node_model(model.eval(), spec, folder)
        run = {"run_id": f"seed{seed}", "registered_model": f"{config.taxonomy.name}.{node}",
               "version": str(seed)}
        (folder / RUN_FILE).write_text(json.dumps(run))
    return build_stack(config, paths).version
