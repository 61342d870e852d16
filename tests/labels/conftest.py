"""A small ingested project, a batch exported from it, and results files as the labelling
tools write them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from taxonomist.config import Paths
from taxonomist.data import ingest
from taxonomist.labels.batch import Batch, Pick, export_batch
from taxonomist.taxonomy import Taxonomy
from tests.data.conftest import SourceFolder, aws_env, image_bytes, moto_endpoint

__all__ = ["aws_env", "moto_endpoint"]  # moto's S3 server, for the presigned URLs

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
