"""A small ingested project, a batch exported from it, and results files as the labelling
tools write them; a digits project beside a registry whose @live stack is real."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from playwright.sync_api import Browser

from taxonomist.config import Aggregation, Config, Paths, compose_config
from taxonomist.data import ingest
from taxonomist.data.pixels import image_to_array
from taxonomist.labels.batch import Batch, Pick, export_batch
from taxonomist.labels.crowd import import_answers
from taxonomist.stack.predictor import Prediction, StackPredictor
from taxonomist.taxonomy import Taxonomy
from taxonomist.tracking.versions import load_served_model
from tests.conftest import REPO
from tests.data.conftest import SourceFolder, aws_env, image_bytes, moto_endpoint
from tests.serve.stacks import Registry, make_registry
from tests.ux.conftest import launched_chromium, page

# moto's S3 server, for the presigned URLs; a headless Chromium, for the queue page
__all__ = ["aws_env", "moto_endpoint", "page"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Closed after its module, so the tests after tests/labels can run an event loop."""
    with launched_chromium() as chromium:
        yield chromium

MTURK_HEADER = ("HITId", "HITTypeId", "AssignmentId", "WorkerId", "AssignmentStatus",
                "SubmitTime", "Input.batch", "Input.task_id", "Input.node", "Input.classes",
                "Input.image_url", "Answer.label")
TTL_S = 3600


@pytest.fixture
def shapes() -> Taxonomy:
    return Taxonomy.from_tree(
        "shapes", {"shape": {"round": ["circle", "oval"], "angular": ["square", "triangle"]}}
    )


@pytest.fixture
def ingested(tmp_path: Path, shapes: Taxonomy) -> tuple[Paths, SourceFolder]:
    """Three circles and three ovals, ingested."""
    folder, paths = SourceFolder(tmp_path / "incoming"), Paths(tmp_path / "project")
    for i in range(6):
        folder.add(f"{i}.png", "circle" if i < 3 else "oval", image_bytes(i))
    ingest(folder.source(), shapes, paths)
    return paths, folder


@pytest.fixture
def batch(ingested: tuple[Paths, SourceFolder], shapes: Taxonomy) -> Batch:
    paths, folder = ingested
    manifest = pd.read_parquet(paths.manifest)
    return export_batch(manifest, "round", 6, Pick.random, shapes, folder.source(),
                        paths.label_batches, TTL_S, seed=0)


def tasks(batch: Batch, paths: Paths) -> list[str]:
    return list(batch.tasks(paths.label_batches)["task_id"])


def mturk_results(file: Path, batch: Batch, answers: list[tuple[str, str, str]],
                  **overrides: str) -> Path:
    """A results CSV with one assignment per ``(task_id, worker, label)``."""
    with file.open("w", newline="") as out:
        writer = csv.DictWriter(out, MTURK_HEADER)
        writer.writeheader()
        for n, (task, worker, label) in enumerate(answers):
            writer.writerow({
                "HITId": f"HIT{task[:6]}", "HITTypeId": "T1", "AssignmentId": f"A{n}",
                "WorkerId": worker, "AssignmentStatus": "Submitted",
                "SubmitTime": "Thu Mar 14 10:52:38 PDT 2024", "Input.batch": batch.batch,
                "Input.task_id": task, "Input.node": batch.node,
                "Input.classes": "|".join(batch.classes), "Input.image_url": "file:///x.png",
                "Answer.label": label, **overrides,
            })
    return file


def label_studio_export(file: Path, batch: Batch, answers: list[tuple[str, str, str]]) -> Path:
    """A Label Studio JSON export: one task per image, one annotation per answer; worker
    ``w7`` is Label Studio's user 7."""
    by_task: dict[str, list] = {}
    for task, worker, label in answers:
        by_task.setdefault(task, []).append({
            "id": len(by_task) * 10 + len(by_task.get(task, [])),
            "completed_by": int(worker.removeprefix("w")),
            "was_cancelled": False,
            "result": [{"from_name": "label", "to_name": "image", "type": "choices",
                        "value": {"choices": [label]}}],
        })
    items = [{"id": n + 1, "project": 7, "annotations": annotations,
              "data": {"image": "s3://b/x.png", "batch": batch.batch, "task_id": task,
                       "node": batch.node}}
             for n, (task, annotations) in enumerate(by_task.items())]
    file.write_text(json.dumps(items))
    return file


def three_workers(task_ids: list[str], wrong: str = "w3") -> list[tuple[str, str, str]]:
    """w1 and w2 call every image a circle; ``wrong`` calls the first ones ovals."""
    answers = []
    for i, task in enumerate(task_ids):
        for worker in ("w1", "w2", "w3"):
            label = "oval" if worker == wrong and i < 2 else "circle"
            answers.append((task, worker, label))
    return answers


@pytest.fixture(scope="session")
def live_registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """A registry whose @live digits stack has untrained tiny nodes (threshold 0: every
    walk reaches a leaf), registered as `dvc repro` registers one."""
    return make_registry(tmp_path_factory.mktemp("labels-registry"), seeds=(1,))


@pytest.fixture(scope="session")
def live_predictor(live_registry: Registry) -> StackPredictor:
    """The @live stack's predictor, loaded by the test itself: the tests' oracle."""
    model = load_served_model(live_registry.client(), live_registry.name,
                              live_registry.versions[0])
    return model.predictor


@dataclass
class DigitsProject:
    """A project of :data:`N_IMAGES` digit-labelled noise images, not ingested until the
    test has seen what the stack makes of them (``guesses``) and chosen their labels."""

    paths: Paths
    config: Config
    folder: SourceFolder
    images: np.ndarray  # as the stack sees them
    guesses: list[Prediction]

    @property
    def conf(self) -> Path:
        return self.paths.conf

    def ingest(self, labels: list[str]) -> list[str]:
        """Ingest image ``i`` as ``labels[i]``; return the image ids, in that order."""
        for i, label in enumerate(labels):
            self.folder.add(f"{i}.png", label, _digit_image(i))
        ingest(self.folder.source(), self.config.taxonomy, self.paths)
        by_path = pd.read_parquet(self.paths.manifest).set_index("path")["id"]
        return [by_path[f"{i}.png"] for i in range(len(labels))]

    def write_splits(self, ids: list[str], splits: list[str]) -> None:
        pd.DataFrame({"id": ids, "split": splits}).to_parquet(self.paths.splits, index=False)

    def leaf_off(self, guess: Prediction) -> str:
        """A leaf under another child of the root than the one ``guess`` went to."""
        taxonomy = self.config.taxonomy
        other = next(c for c in taxonomy.children[taxonomy.root] if c != guess.path[0])
        return next(leaf for leaf in taxonomy.leaves if other in taxonomy.path(leaf))


N_IMAGES = 8


def _digit_image(i: int) -> bytes:
    return image_bytes(100 + i, size=(16, 16))


def digits_project(root: Path, conf: Path, predictor: StackPredictor) -> DigitsProject:
    """A project at ``root`` with a copy of ``conf`` and the stack's walk on each image."""
    shutil.copytree(conf, root / "conf")
    images = np.stack([image_to_array(Image.open(io.BytesIO(_digit_image(i))),
                                      predictor.image_size) for i in range(N_IMAGES)])
    return DigitsProject(Paths(root), compose_config(root / "conf"),
                         SourceFolder(root.parent / "incoming"), images,
                         predictor.predict(images))


@pytest.fixture
def live_digits(tmp_path: Path, live_registry: Registry,
                live_predictor: StackPredictor) -> DigitsProject:
    """A digits project whose conf/ points at the registry's store: a stack is live."""
    return digits_project(tmp_path / "project", live_registry.root / "conf", live_predictor)


@pytest.fixture
def unserved_digits(tmp_path: Path, live_predictor: StackPredictor) -> DigitsProject:
    """A digits project with the repository's conf/: its own MLflow store, nothing live."""
    return digits_project(tmp_path / "project", REPO / "conf", live_predictor)


@dataclass(frozen=True)
class Disputed:
    """:func:`disputed`'s project: ``ids[i]`` is image ``i``."""

    project: DigitsProject
    ids: list[str]


# image -> its split and the three workers' answers (none: the crowd never saw it)
DISPUTES = {
    0: ("val", ("one", "two", "six")),  # a three-way split, and the stack contradicts it
    1: ("train", ("one", "one", "two")),
    2: ("train", ("five", "five", "five")),
    3: ("train", ()),  # contradicted in sample
    4: ("test", ()),  # contradicted out of sample
}
CONTRADICTED = (0, 3, 4)


def disputed(project: DigitsProject) -> Disputed:
    """Images labelled as the stack guesses them, but for :data:`CONTRADICTED` (a leaf
    under another family); splits and crowd answers (majority vote) by :data:`DISPUTES`,
    the rest train, unanswered."""
    labels = [project.leaf_off(g) if i in CONTRADICTED else g.label
              for i, g in enumerate(project.guesses)]
    ids = project.ingest(labels)
    splits = [DISPUTES.get(i, ("train",))[0] for i in range(len(ids))]
    project.write_splits(ids, splits)
    manifest = pd.read_parquet(project.paths.manifest)
    batch = export_batch(manifest, "digit", len(ids), Pick.random, project.config.taxonomy,
                         project.folder.source(), project.paths.label_batches, TTL_S, seed=0)
    answers = [(ids[i], f"w{w + 1}", label) for i, (_, said) in DISPUTES.items()
               for w, label in enumerate(said)]
    results = mturk_results(project.paths.root.parent / "results.csv", batch, answers)
    import_answers(results, project.paths, Aggregation.majority_vote)
    return Disputed(project, ids)
