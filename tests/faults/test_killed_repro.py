"""`kill -9` of a whole `dvc repro` (OOM killer, pre-emption) in a data stage, in
``train@NODE`` and in ``stack``, at points the test controls.

Each kill comes as a stage command is about to put an output in place (its bytes complete
in a temporary file): the moment a non-atomic writer would leave a half-written file.
The next `dvc repro` must run the interrupted stage and what follows, nothing before it,
without tripping over the dead process's locks. The tests run in order on one project.
"""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest
from mlflow import MlflowClient

from taxonomist.contracts.files import TEMP_GLOB
from taxonomist.tracking.orphans import ORPHAN_TAG
from tests.faults.conftest import Killed, Project, stages_run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def rwlock(root: Path) -> dict:
    """DVC's record of which process reads and writes which paths."""
    path = root / ".dvc" / "tmp" / "rwlock"
    return json.loads(path.read_text()) if path.exists() else {}


def lock_pids(root: Path, mode: str | None = None) -> set[int]:
    """The processes holding read or write locks (``mode`` None: either) in the rwlock."""
    lock = rwlock(root)
    readers = [info for infos in lock.get("read", {}).values() for info in infos]
    holders = {"read": readers, "write": list(lock.get("write", {}).values())}
    infos = holders[mode] if mode else [*holders["read"], *holders["write"]]
    return {info["pid"] for info in infos}


def assert_reran_from(project: Project, killed: Killed, output: str) -> None:
    """``output`` (the next `dvc repro`) ran the killed stage, none of the stages the killed
    run had finished, and left the pipeline up to date: so it ran what follows."""
    ran = stages_run(output)
    assert killed.stage in ran
    assert not ran & (stages_run(killed.output) - {killed.stage}), "an upstream stage reran"
    assert "up to date" in project.run("dvc", "status")


def stack_versions(project: Project) -> list:
    client = MlflowClient(f"sqlite:///{project.root / 'mlflow' / 'mlflow.db'}")
    return sorted(client.search_model_versions("name='digits.stack'"), key=lambda v: int(v.version))


def test_a_repro_killed_in_a_data_stage_reruns_that_stage_and_what_follows(
    repro_project: Project,
) -> None:
    root = repro_project.root
    killed = repro_project.killed_repro(pause_at="data/splits.parquet")
    assert killed.stage == "split"
    assert not (root / "data" / "splits.parquet").exists(), "a half-written splits file"
    assert killed.dvc_pid in lock_pids(root), "DVC's lock should still name the dead process"
    output = repro_project.repro()
    assert_reran_from(repro_project, killed, output)
    assert {"config", "sample", "ingest"} & stages_run(output) == set()
    assert "had been killed. Auto removed it from the lock file" in output
    # what is left are the dead process's read locks on paths nothing has written since;
    # DVC drops each one the moment a writer of its path would be blocked by it
    assert killed.dvc_pid not in lock_pids(root, "write")
    assert not any(psutil.pid_exists(pid) for pid in lock_pids(root, "read"))
    assert not list((root / "data").glob(TEMP_GLOB)), "the killed writer's temporary file"


def test_a_repro_killed_in_train_reruns_only_that_node_and_what_follows(
    repro_project: Project,
) -> None:
    root = repro_project.root
    repro_project.run("taxonomist", "pipeline", "classifiers.digit.epochs=2")
    killed = repro_project.killed_repro(pause_at="checkpoints/digit/*.ckpt")
    assert killed.stage == "train@digit"
    assert not (root / "models" / "digit").exists(), "a half-written model folder"
    before = len(stack_versions(repro_project))
    killed_stack = repro_project.killed_repro(pause_at="models/_stack/registered.json")
    ran = stages_run(killed_stack.output)
    assert "train@digit" in ran and not ran & (stages_run(killed.output) - {killed.stage})
    assert len(stack_versions(repro_project)) == before + 1


def test_a_repro_killed_in_stack_leaves_its_version_tagged_as_orphan_not_promoted(
    repro_project: Project,
) -> None:
    root = repro_project.root
    orphan = stack_versions(repro_project)[-1]  # registered by the stack killed above
    assert not (root / "models" / "_stack" / "registered.json").exists()
    assert_reran_from(repro_project, repro_project.kills[-1], repro_project.repro())
    versions = {str(v.version): v for v in stack_versions(repro_project)}
    tagged = versions[str(orphan.version)]
    assert "never promoted" in tagged.tags.get(ORPHAN_TAG, ""), tagged.tags
    assert not tagged.aliases and "decision" not in tagged.tags
    promotion = json.loads((root / "reports" / "promotion.json").read_text())
    assert int(promotion["challenger"]["version"]) == int(orphan.version) + 1
    assert ORPHAN_TAG not in versions[promotion["challenger"]["version"]].tags
