"""A real `dvc repro` retrains only the nodes whose own data changed.

The tiny taxonomy ``root -> {deep: [x, y], side: [p, q]}``: new images of the deep leaf
``x`` change what ``root`` and ``deep`` see, and nothing of ``side``, so DVC must rerun
``train@root``/``train@deep`` and leave ``side`` alone (``dvc status`` then has only
their evaluations to redo). A new ``image_size`` for ``side`` rebuilds only its cache,
so only ``side`` goes stale. (Stages are run only as far as needed: each costs seconds.)
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from tests.conftest import REPO
from tests.integration.test_dvc_repro import TINY_CLASSIFIER, run, stages_run

pytestmark = pytest.mark.slow
TREE = {"root": {"deep": ["x", "y"], "side": ["p", "q"]}}
COLOURS = {"x": (200, 40, 40), "y": (40, 200, 40), "p": (40, 40, 200), "q": (200, 200, 40)}


def add_sets(folder: Path, label: str, first: int, count: int) -> None:
    """``count`` sets of two 16 px views of ``label``'s colour, noisy, in the manifest."""
    rows = []
    for n in range(first, first + count):
        rng = np.random.default_rng([n, list(COLOURS).index(label)])  # no two sets alike
        for view in range(2):
            noise = rng.integers(-40, 40, (16, 16, 3))
            pixels = np.clip(np.array(COLOURS[label]) + noise, 0, 255).astype(np.uint8)
            path = f"{label}/{n:03d}-{view}.png"
            (folder / label).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(folder / path)
            rows.append({"path": path, "label": label, "source": "cam",
                         "set_id": f"{label}-{n}", "taken_at": "2024-05-01"})
    manifest = folder / "manifest.csv"
    new = not manifest.exists()
    with manifest.open("a", newline="") as out:
        writer = csv.DictWriter(out, list(rows[0]))
        if new:
            writer.writeheader()
        writer.writerows(rows)


def stale(repo: Path) -> set[str]:
    """The train/evaluate stages `dvc status` reports as changed."""
    status = run(["dvc", "status"], repo).stdout
    return {line.strip().rstrip(":") for line in status.splitlines()
            if line.strip().startswith(("train@", "evaluate@"))}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("incremental")
    shutil.copytree(REPO / "conf", root / "conf")
    for node_file in (root / "conf" / "classifiers").glob("[!_]*.yaml"):
        node_file.unlink()
    (root / "conf" / "classifiers" / "_default.yaml").write_text(
        yaml.safe_dump(TINY_CLASSIFIER | {"augment": []}))
    (root / "conf" / "taxonomy" / "tiny.yaml").write_text(
        yaml.safe_dump({"name": "tiny", "tree": TREE}))
    for label in COLOURS:
        add_sets(root / "incoming", label, 0, 10)
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    run(["git", "init", "-q"], root)
    run(["dvc", "init", "-q"], root)
    run(["taxonomist", "pipeline", "taxonomy=tiny", "data=folder", "data.root=incoming"], root)
    run(["git", "add", "-A"], root)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init"], root)
    first = stages_run(run(["dvc", "repro", "evaluate"], root).stdout)
    assert {"cache", "train@root", "train@side", "evaluate@deep", "evaluate@side"} <= first
    return root


def test_new_images_of_a_deep_leaf_retrain_only_its_ancestors(repo: Path) -> None:
    add_sets(repo / "incoming", "x", 100, 3)

    ran = stages_run(run(["dvc", "repro", "train"], repo).stdout)

    assert {"ingest", "split", "cache"} <= ran
    assert {s for s in ran if s.startswith("train@")} == {"train@root", "train@deep"}
    assert stale(repo) == {"evaluate@root", "evaluate@deep"}  # evaluate@side stays valid


def test_a_new_image_size_for_one_node_makes_only_that_node_stale(repo: Path) -> None:
    run(["taxonomist", "pipeline", "classifiers.side.image_size=12"], repo)
    ran = stages_run(run(["dvc", "repro", "cache"], repo).stdout)
    assert "cache" in ran
    now_stale = stale(repo)  # evaluate@root and @deep may still wait from the test above
    assert {s for s in now_stale if s.startswith("train@")} == {"train@side"}
    assert "evaluate@side" in now_stale  # its cache changed
