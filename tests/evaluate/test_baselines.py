"""The baseline stage: a flat network and an SVC on the stack's test images, the numbers
DVC and the model card show, and the dvc.yaml stage that runs it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dvc.compare import show_metrics
from mlflow import MlflowClient

from taxonomist.config import Paths, compose_config
from taxonomist.config.schema import SvcBaselineConfig
from taxonomist.contracts.baselines import (
    FLAT,
    PREDICTIONS_DIR,
    SVC_PIXELS,
    BaselineScore,
    baseline_file,
    predictions_file,
    read_predictions,
)
from taxonomist.contracts.cache import CachedSplit, node_cache, save_node_split
from taxonomist.evaluate.baselines import (
    FLAT_NODE,
    fit_svc,
    flat_config,
    grey_pixels,
    run_baselines,
)
from taxonomist.pipeline import dvc_yaml
from tests.conftest import declared_params
from tests.evaluate.test_dvc_views import TERMINAL, write_views
from tests.train.conftest import migrated_mlflow_db, mlflow_store  # noqa: F401 (fixtures)

LEAVES = ["zero", "six", "eight", "nine", "one", "four", "seven", "two", "three", "five"]
TINY = [
    "classifiers.digit.backbone.name=test_resnet",
    "classifiers.digit.image_size=16",
    "classifiers.digit.epochs=1",
    "classifiers.digit.batch_size=32",
]


def block_images(labels: list[str], rng: np.random.Generator) -> np.ndarray:
    """16x16 dark images with a bright 4x4 block where the leaf's index puts it: an SVC
    on 8x8 pixels separates them. A label that is no leaf gets no block."""
    images = rng.integers(0, 30, (len(labels), 16, 16, 3))
    for i, label in enumerate(labels):
        if label in LEAVES:
            k = LEAVES.index(label)
            images[i, 4 * (k // 4):4 * (k // 4) + 4, 4 * (k % 4):4 * (k % 4) + 4] = 230
    return images.astype(np.uint8)


def cached(labels: list[str], seed: int) -> CachedSplit:
    index = pd.DataFrame({"id": [f"{seed}-{i}" for i in range(len(labels))], "label": labels})
    return CachedSplit(block_images(labels, np.random.default_rng(seed)), index)


@pytest.fixture
def baseline_project(project: Path, mlflow_store: Path) -> Paths:  # noqa: F811
    """The root's cache (train, val) and the stack's test cache, with one test image
    labelled only with an inner node ('round'), which no leaf metric counts."""
    paths = Paths(project)
    save_node_split(paths, "digit", "train", cached(LEAVES * 6, 1))
    save_node_split(paths, "digit", "val", cached(LEAVES * 2, 2))
    save_node_split(paths, "_stack", "test", cached([*LEAVES * 2, "round"], 3))
    return paths


@pytest.mark.slow  # trains a (tiny) network and logs to MLflow: ~20-40 s
def test_both_baselines_on_the_stacks_test_leaves_in_files_and_mlflow(baseline_project: Paths
                                                                     ) -> None:
    paths = baseline_project
    flat, svc = run_baselines(compose_config(overrides=TINY), paths)
    assert (flat.name, svc.name) == (FLAT, SVC_PIXELS)
    # the blocks are 2x2 of the SVC's 8x8 pixels: all 20 leaf images right, the image
    # labelled 'round' left out (no leaf answer could be right for it)
    assert (svc.leaf_accuracy, svc.macro_f1) == (1.0, 1.0)
    for score in (flat, svc):
        written = json.loads(baseline_file(paths.root / "metrics", score.name).read_text())
        assert written == {"leaf_accuracy": score.leaf_accuracy, "macro_f1": score.macro_f1}
    assert not node_cache(paths, FLAT_NODE).exists()  # the link to the root's cache is gone
    # each baseline's answers: on the stack's leaf-labelled test images, in their order
    stack_leaf_ids = [f"3-{i}" for i in range(len(LEAVES) * 2)]
    for score in (flat, svc):
        answers = read_predictions(predictions_file(paths.node_plots(PREDICTIONS_DIR),
                                                    score.name))
        assert answers["id"].tolist() == stack_leaf_ids
        assert answers["label"].tolist() == LEAVES * 2
        assert answers["correct"].mean() == score.leaf_accuracy
    # the flat network: trained on the root's cache with its definition, registered
    spec = json.loads((paths.model_dir(FLAT_NODE) / "spec.json").read_text())
    assert spec["classes"] == LEAVES and spec["image_size"] == 16
    client = MlflowClient(f"sqlite:///{paths.root / 'mlflow' / 'mlflow.db'}")
    version = client.get_model_version("digits._flat", "1")
    assert client.get_run(version.run_id).data.params["n_train"] == str(len(LEAVES) * 6)
    (run,) = client.search_runs([client.get_experiment_by_name("digits").experiment_id],
                                filter_string="tags.`taxonomist.stage` = 'baseline'")
    assert run.data.metrics == {
        "flat.leaf_accuracy": flat.leaf_accuracy, "flat.macro_f1": flat.macro_f1,
        "svc.leaf_accuracy": svc.leaf_accuracy, "svc.macro_f1": svc.macro_f1,
    }
    assert run.data.params["flat.run_id"] == version.run_id


def test_flat_config_is_one_node_over_every_leaf_with_the_roots_definition(project: Path
                                                                           ) -> None:
    config = compose_config(overrides=TINY)
    flat = flat_config(config)
    assert flat.taxonomy.inner_nodes == [FLAT_NODE]
    assert list(flat.taxonomy.children[FLAT_NODE]) == config.taxonomy.leaves
    assert flat.classifiers == {FLAT_NODE: config.classifiers["digit"]}
    assert flat.project == config.project


def test_grey_pixels_average_boxes_and_measure_ink() -> None:
    image = np.full((1, 4, 4, 3), 255, np.uint8)
    image[0, :2, :2] = 0  # a black quarter on white
    assert grey_pixels(image, 2).tolist() == [[1.0, 0.0, 0.0, 0.0]]


@pytest.mark.parametrize(("gamma", "expected"), [(None, "scale"), (0.5, 0.5)])
def test_svc_settings_come_from_the_config(gamma: float | None, expected) -> None:
    svc = fit_svc(cached(LEAVES * 2, 0), SvcBaselineConfig(size=4, C=3.0, gamma=gamma))
    assert (svc.C, svc.gamma, svc.n_features_in_) == (3.0, expected, 16)


def test_dvc_stage_trains_with_the_roots_keys_and_declares_its_outputs(project: Path) -> None:
    stages = dvc_yaml(compose_config())["stages"]
    stage = stages["baseline"]
    assert stage["deps"] == ["data/cache/digit", "data/cache/_stack"]
    params = declared_params(stage["params"])
    assert {"baseline", "params/digit.json:classifier.epochs",
            "params/digit.json:classifier.image_size", "params/digit.json:trainer",
            "params/digit.json:seed"} <= params
    assert "params/digit.json:classifier.threshold" not in params  # the stack's, not its
    assert stage["metrics"] == [{"metrics/_flat.json": {"cache": False}},
                                {"metrics/_svc.json": {"cache": False}}]
    # the answers per image, committed with git like the stack's plots, read by the card
    assert {"plots/_baselines": {"cache": False}} in stage["outs"]
    assert {"metrics/_flat.json", "metrics/_svc.json", "plots/_baselines"} <= set(
        stages["report"]["deps"])


def test_dvc_metrics_table_with_the_baselines_fits_the_terminal(tmp_path: Path, capsys) -> None:
    files = write_views(Paths(tmp_path))
    files += [BaselineScore(n, 0.9811, 0.9809).write(tmp_path / "metrics")
              for n in (FLAT, SVC_PIXELS)]
    data = {str(f.relative_to(tmp_path)): {"data": json.loads(f.read_text())} for f in files}
    show_metrics({"workspace": {"data": data}}, precision=5, round_digits=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[-2:]] == ["metrics/_flat.json", "metrics/_svc.json"]
    assert max(map(len, lines)) <= TERMINAL
