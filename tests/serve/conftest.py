"""Two real registered stack versions, built in seconds, and an app over them.

The node classifiers are untrained ``test_resnet`` networks (different seeds, so the
two stacks differ byte for byte): serving does not care how good a stack is, only that
it is a stack registered exactly as ``dvc repro`` registers one (``build_stack``).
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import timm
import torch
from fastapi.testclient import TestClient
from PIL import Image

from taxonomist.config import Config, Paths, compose_config
from taxonomist.contracts.cache import STACK, CachedSplit, save_node_split
from taxonomist.data.images import ImagePolicy
from taxonomist.serve.app import create_app
from taxonomist.serve.live import LiveFollower, ServedStack
from taxonomist.serve.settings import ServeConfig
from taxonomist.stack.build import build_stack
from taxonomist.tracking.client import client_for
from taxonomist.tracking.ledger import PROMOTE, move_live
from taxonomist.train.artifact import save_node_model
from taxonomist.train.model import NodeSpec
from taxonomist.train.publish import RUN_FILE
from tests.conftest import REPO

SIZE = 16


@dataclass(frozen=True)
class Registry:
    """A project folder whose registry holds stack versions 1 and 2, v1 live."""

    root: Path
    config: Config
    name: str
    versions: tuple[str, ...]

    def client(self):
        return client_for(self.config.project.mlflow, Paths(self.root))

    def move_live(self, version: str) -> None:
        move_live(self.client(), self.name, version, reason="test", actor="test", kind=PROMOTE)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    root = tmp_path_factory.mktemp("serve-project")
    shutil.copytree(REPO / "conf", root / "conf")
    main = root / "conf" / "config.yaml"
    uri = f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
    main.write_text(main.read_text().replace("tracking_uri: null", f"tracking_uri: {uri}"))
    (root / "mlflow").mkdir()
    default = root / "conf" / "classifiers" / "_default.yaml"  # untrained: never sure
    default.write_text(default.read_text().replace("threshold: 0.5", "threshold: 0.0"))
    config, paths = compose_config(root / "conf"), Paths(root)
    _write_test_split(config, paths)
    versions = tuple(_register_stack(config, paths, seed) for seed in (1, 2))
    registry = Registry(root, config, f"{config.taxonomy.name}.stack", versions)
    registry.move_live(versions[0])
    return registry


@pytest.fixture(scope="session")
def served(registry: Registry) -> ServedStack:
    """Stack v1, loaded and warmed once for the session."""
    follower = LiveFollower(registry.client(), registry.name, interval_s=3600)
    follower.refresh()
    assert follower.current is not None, follower.last_error
    return follower.current


def follower_on(registry: Registry, stack: ServedStack) -> LiveFollower:
    """A follower already serving ``stack``; its polls find @live unmoved (v1)."""
    follower = LiveFollower(registry.client(), registry.name, interval_s=3600)
    follower.current = stack
    return follower


@pytest.fixture
def make_client(registry: Registry, served: ServedStack) -> Iterator:
    """``make_client(stack=..., policy=..., **settings)``: a TestClient over a fresh app."""
    opened: list[TestClient] = []

    def make(stack: ServedStack = served, policy: ImagePolicy | None = None,
             **settings) -> TestClient:
        app = create_app(follower_on(registry, stack), ServeConfig(**settings),
                         policy or ImagePolicy())
        client = TestClient(app, raise_server_exceptions=False)
        opened.append(client.__enter__())
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def png(size: tuple[int, int] = (20, 20), color: str = "white", fmt: str = "PNG") -> bytes:
    """An image file drawn with PIL."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def _write_test_split(config: Config, paths: Paths) -> None:
    leaves = list(config.taxonomy.leaves)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (len(leaves) * 2, SIZE, SIZE, 3), dtype=np.uint8)
    index = pd.DataFrame({
        "id": [f"img{i}" for i in range(len(images))],
        "label": leaves * 2,
        "set_id": [f"set{i}" for i in range(len(images))],
        "source": "test",
        "taken_at": pd.Timestamp("2024-01-01"),
    })
    save_node_split(paths, STACK, "test", CachedSplit(images, index))


def _register_stack(config: Config, paths: Paths, seed: int) -> str:
    """Node folders as ``train`` publishes them (untrained weights), then ``build_stack``."""
    torch.manual_seed(seed)
    for node in config.taxonomy.inner_nodes:
        classes = list(config.taxonomy.children[node])
        model = timm.create_model("test_resnet", pretrained=False, num_classes=len(classes))
        spec = NodeSpec(node, classes, "test_resnet", SIZE, [0.5] * 3, [0.5] * 3,
                        config.classifiers[node].threshold)
        folder = paths.model_dir(node)
        shutil.rmtree(folder, ignore_errors=True)
        save_node_model(model.eval(), spec, folder)
        run = {"run_id": f"seed{seed}", "registered_model": f"digits.{node}",
               "version": str(seed)}
        (folder / RUN_FILE).write_text(json.dumps(run))
    return build_stack(config, paths).version
