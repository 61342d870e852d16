"""The baseline stage: what a flat network and a classical SVC score on the stack's test split.

A hierarchy of classifiers has to earn its keep: if one network over every leaf, or a
plain SVC on a few grey pixels, names more test images correctly than the stack, the
stack is a bug to fix, not a result. Both baselines are scored on exactly the images the
stack is tested on (the stack's test cache, leaf-labelled images only):

- **flat**: one network over every leaf, trained by the same ``train_node`` as every node,
  with the root node's classifier definition (backbone, image size, augmentation,
  optimiser, epochs, early stopping), on the root's cache (every image under the tree).
  It is published like a node, as ``models/_flat/`` and ``<taxonomy>._flat``.
- **svc**: scikit-learn's ``SVC`` on each image scaled down to ``size`` x ``size`` grey
  pixels, fitted on the train split (``conf/baseline/default.yaml``).

Scores go to ``metrics/_flat.json`` and ``metrics/_svc.json``, each baseline's answer
per test image to ``plots/_baselines/<name>.csv`` (:mod:`taxonomist.contracts.baselines`;
the card pairs them with the stack's), and the scores to one MLflow run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.svm import SVC

from taxonomist.config import Config, Paths
from taxonomist.config.schema import SvcBaselineConfig
from taxonomist.contracts.baselines import (
    FLAT,
    FLAT_NODE,
    PREDICTIONS_DIR,
    SVC_PIXELS,
    BaselineScore,
    predictions_file,
    predictions_table,
    write_predictions,
)
from taxonomist.contracts.cache import CachedSplit, load_node_split, load_stack_test, node_cache
from taxonomist.data.pixels import grey_ink
from taxonomist.evaluate.metrics import classification_metrics
from taxonomist.evaluate.predict import predict_proba
from taxonomist.taxonomy import Taxonomy
from taxonomist.tracking.names import stage_tags
from taxonomist.tracking.runs import RunLog
from taxonomist.train.artifact import load_node_model
from taxonomist.train.fit import train_node


def run_baselines(config: Config, paths: Paths) -> list[BaselineScore]:
    """Train and score both baselines; write ``metrics/_flat.json``, ``metrics/_svc.json``
    and their answers per test image, ``plots/_baselines/flat.csv`` and ``svc.csv``.

    Returns:
        The flat network's score, then the SVC's.
    """
    leaves = config.taxonomy.leaves
    test = on_leaves(_cached(paths, None, "test"), leaves)
    flat_run = train_flat(config, paths)
    svc_cfg = config.project.baseline.svc
    svc = fit_svc(on_leaves(_cached(paths, config.taxonomy.root, "train"), leaves), svc_cfg)
    answers = {
        FLAT: predict_flat(paths, test.images),
        SVC_PIXELS: [str(a) for a in svc.predict(grey_pixels(test.images, svc_cfg.size))],
    }
    scores = [_score(name, test, predicted, leaves) for name, predicted in answers.items()]
    for score in scores:
        score.write(paths.stack_metrics.parent)
    for name, predicted in answers.items():
        write_predictions(predictions_file(paths.node_plots(PREDICTIONS_DIR), name),
                          predictions_table(test.index["id"], test.index["label"], predicted))
    _log(config, paths, scores, flat_run, svc_cfg)
    return scores


def on_leaves(split: CachedSplit, leaves: list[str]) -> CachedSplit:
    """The images of ``split`` labelled with a leaf (read into memory): what leaf
    accuracy counts, for the stack as for the baselines."""
    rows = np.flatnonzero(split.index["label"].isin(leaves).to_numpy())
    index = split.index.iloc[rows].reset_index(drop=True)
    return CachedSplit(np.asarray(split.images[rows]), index)


def flat_config(config: Config) -> Config:
    """The project with a one-node taxonomy, ``_flat`` -> every leaf, classified with the
    root node's definition."""
    tree = {FLAT_NODE: list(config.taxonomy.leaves)}
    flat = Taxonomy.from_tree(config.taxonomy.name, tree, config.taxonomy.source)
    definition = config.classifiers[config.taxonomy.root]
    return replace(config, taxonomy=flat, classifiers={FLAT_NODE: definition})


def train_flat(config: Config, paths: Paths) -> str:
    """Train the flat network with ``train_node``, reading the root's cache; its run id."""
    with _root_cache_as_flat(paths, config.taxonomy.root):
        return train_node(FLAT_NODE, flat_config(config), paths).run_id


def predict_flat(paths: Paths, images: np.ndarray) -> list[str]:
    """The leaf the published flat network gives each uint8 image."""
    spec, model = load_node_model(paths.model_dir(FLAT_NODE))
    return [spec.classes[k] for k in predict_proba(model, spec, images).argmax(axis=1)]


def grey_pixels(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, H, W, 3) -> (N, size * size) ink in [0, 1]: grey, box-averaged, inverted."""
    rows = [grey_ink(np.asarray(image), size) for image in images]
    return np.stack(rows) if rows else np.zeros((0, size * size), np.float32)


def fit_svc(train: CachedSplit, cfg: SvcBaselineConfig) -> SVC:
    """An SVC fitted on the grey pixels of ``train`` and their labels."""
    gamma = "scale" if cfg.gamma is None else cfg.gamma
    return SVC(C=cfg.C, gamma=gamma).fit(grey_pixels(train.images, cfg.size), train.index["label"])


def _cached(paths: Paths, node: str | None, split: str) -> CachedSplit:
    """The one read of the cache here: a node's split, or (None) the stack's test images."""
    return load_stack_test(paths) if node is None else load_node_split(paths, node, split)


@contextmanager
def _root_cache_as_flat(paths: Paths, root: str) -> Iterator[None]:
    """``data/cache/_flat`` as a link to the root's cache while the flat network trains:
    the root's cache holds every image under the tree at the root's image size, which is
    what the flat network is trained on, and ``train_node`` reads a node's own cache."""
    link = node_cache(paths, FLAT_NODE)
    link.unlink(missing_ok=True)
    os.symlink(Path(root), link, target_is_directory=True)
    try:
        yield
    finally:
        link.unlink(missing_ok=True)


def _score(name: str, test: CachedSplit, predicted: list[str], leaves: list[str]
           ) -> BaselineScore:
    metrics = classification_metrics(list(test.index["label"]), list(predicted), leaves)
    return BaselineScore(name, metrics["accuracy"], metrics["macro_f1"])


def _log(config: Config, paths: Paths, scores: list[BaselineScore], flat_run: str,
         svc: SvcBaselineConfig) -> None:
    """One ``baseline`` run: both scores, the SVC's settings, the flat network's run."""
    runs = RunLog.for_project(config.project.mlflow, paths)
    run_id = runs.start("baseline", stage_tags("baseline"))
    metrics = {f"{s.name}.{key}": getattr(s, key) for s in scores
               for key in ("leaf_accuracy", "macro_f1")}
    params = {"flat.run_id": flat_run, "svc.size": svc.size, "svc.C": svc.C,
              "svc.gamma": "scale" if svc.gamma is None else svc.gamma}
    runs.log(run_id, params=params, metrics=metrics)
    runs.finish(run_id)
