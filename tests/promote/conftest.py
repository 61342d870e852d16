"""A real, small trained stack on the sample digits, shared by the promotion tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from taxonomist.config import Paths, compose_config
from taxonomist.data import build_cache, create_source, ingest, split, write_sample
from taxonomist.pipeline import write
from taxonomist.tracking.client import client_at
from taxonomist.train.fit import train_node
from tests.conftest import REPO
from tests.mlflow_server import postgres_database, running_server

SMALL = {
    "backbone": {"name": "test_resnet", "pretrained": False, "unfreeze_last": -1},
    "image_size": 16,
    "epochs": 6,
    "batch_size": 32,
    "augment": [],
    "threshold": 0.0,
    "min_images": 2,
    "optim": {"lr": 0.01},
    # each node alone in the stack: a damaged node must damage the stack, which a node
    # leaning on the root by a fitted weight would not let it do
    "ancestor_weight": 0.0,
}


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Path:
    """A project folder with data, four trained nodes and an MLflow store (no stack yet)."""
    root = tmp_path_factory.mktemp("trained")
    shutil.copytree(REPO / "conf", root / "conf")
    (root / "conf" / "classifiers" / "_default.yaml").write_text(yaml.safe_dump(SMALL))
    (root / "conf" / "classifiers" / "round.yaml").unlink()
    sample = root / "conf" / "data" / "sample.yaml"
    sample.write_text(sample.read_text().replace("per_class: null", "per_class: 30"))
    promotion = root / "conf" / "promotion" / "default.yaml"
    promotion.write_text(promotion.read_text().replace("lock_timeout_s: 600", "lock_timeout_s: 3"))
    config = compose_config(root / "conf")
    paths = Paths(root)
    write(config, paths)
    write_sample(config.project.data, config.project.seed, root / config.project.data.root)
    ingest(create_source(config.project.data, root), config.taxonomy, paths)
    split(config.project.split, config.project.seed, paths)
    build_cache(config.taxonomy, {n: c.image_size for n, c in config.classifiers.items()}, paths)
    for node in config.taxonomy.inner_nodes:
        train_node(node, config, paths)
    return root


@pytest.fixture
def project(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the trained project (its own registry), as cwd."""
    root = tmp_path / "project"
    shutil.copytree(trained, root, ignore=shutil.ignore_patterns("checkpoints"))
    monkeypatch.chdir(root)
    return root


@pytest.fixture(scope="session")
def postgres_mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a real ``mlflow server`` on a throwaway PostgreSQL database."""
    store = tmp_path_factory.mktemp("mlflow-postgres")
    with postgres_database() as database, running_server(store, database) as url:
        yield url


@pytest.fixture(params=["sqlite", "server", "postgres-server"])
def any_store(request: pytest.FixtureRequest, project: Path) -> Iterator[Path]:
    """The project, its registry in a local sqlite store, on a real ``mlflow server``
    (sqlite-backed) and on one backed by PostgreSQL (the lock must work on any backend);
    a server's registry is emptied afterwards."""
    if request.param == "sqlite":
        yield project
        return
    server = {"server": "mlflow_server", "postgres-server": "postgres_mlflow_server"}
    url = request.getfixturevalue(server[request.param])
    config = project / "conf" / "config.yaml"
    config.write_text(config.read_text().replace("tracking_uri: null", f"tracking_uri: {url}"))
    # Over HTTP, on a busy 2-core machine, moving @live takes a holder past 3 s: it must
    # not count as stale while it is still at work.
    rule = project / "conf" / "promotion" / "default.yaml"
    rule.write_text(rule.read_text().replace("lock_timeout_s: 3", "lock_timeout_s: 15"))
    yield project
    server = client_at(url)
    for model in server.search_registered_models():
        server.delete_registered_model(model.name)
