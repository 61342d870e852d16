"""`kill -9` of a whole `dvc repro` (OOM killer, pre-emption) in a data stage, in
``train@NODE`` and in ``stack``, at points the test controls.

Each kill comes as a stage command is about to put an output in place (its bytes complete
in a temporary file): the moment a non-atomic writer would leave a half-written file.
The next `dvc repro` must run the interrupted stage and what follows, nothing before it,
without tripping over the dead process's locks. The three kills come one after the other
on one project (:func:`~tests.faults.conftest.killed_thrice`: each rerun is the run the
next kill stops), so the whole story costs about one pipeline.
"""

from __future__ import annotations

import json

import psutil
import pytest

from taxonomist.contracts.files import TEMP_GLOB
from taxonomist.tracking.names import ORPHAN_TAG
from tests.faults.conftest import Killed, KilledThrice, lock_pids, stack_versions, stages_run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def assert_reran_from(killed: Killed, output: str) -> None:
    """``output`` (the next `dvc repro`) ran the killed stage and none of the stages the
    killed run had finished."""
    ran = stages_run(output)
    assert killed.stage in ran, f"{killed.stage} did not rerun:\n{output[-6000:]}"
    assert not ran & (stages_run(killed.output) - {killed.stage}), "an upstream stage reran"


def test_a_repro_killed_in_a_data_stage_reruns_that_stage_and_what_follows(
    killed_thrice: KilledThrice,
) -> None:
    split, rerun = killed_thrice.in_split, killed_thrice.in_train.killed
    assert split.killed.stage == "split"
    assert not split.half_written, "a half-written splits file"
    assert split.killed.dvc_pid in split.lock_pids, "DVC's lock should name the dead process"
    assert_reran_from(split.killed, rerun.output)
    assert {"config", "sample", "ingest"} & stages_run(rerun.output) == set()
    assert "had been killed. Auto removed it from the lock file" in rerun.output
    # what is left are the dead processes' read locks on paths nothing has written since;
    # DVC drops each one the moment a writer of its path would be blocked by it
    root = killed_thrice.project.root
    assert split.killed.dvc_pid not in lock_pids(root, "write")
    assert not any(psutil.pid_exists(pid) for pid in lock_pids(root, "read"))
    assert not list((root / "data").glob(TEMP_GLOB)), "the killed writer's temporary file"


def test_a_repro_killed_in_train_reruns_only_that_node_and_what_follows(
    killed_thrice: KilledThrice,
) -> None:
    train, stack = killed_thrice.in_train, killed_thrice.in_stack
    assert train.killed.stage == "train@digit"
    assert not train.half_written, "a half-written model folder"
    assert_reran_from(train.killed, stack.killed.output)
    assert stack.killed.stage == "stack"
    assert len(killed_thrice.stack_versions_at_kill) == 1, "the killed stack registered none"


def test_a_repro_killed_in_stack_leaves_its_version_tagged_as_orphan_not_promoted(
    killed_thrice: KilledThrice,
) -> None:
    project, stack = killed_thrice.project, killed_thrice.in_stack
    orphan = killed_thrice.stack_versions_at_kill[-1]
    assert not stack.half_written, "a half-written registered.json"
    assert_reran_from(stack.killed, killed_thrice.rerun)
    assert "up to date" in project.run("dvc", "status")
    versions = {str(v.version): v for v in stack_versions(project)}
    tagged = versions[str(orphan.version)]
    assert "never promoted" in tagged.tags.get(ORPHAN_TAG, ""), tagged.tags
    assert not tagged.aliases and "decision" not in tagged.tags
    promotion = json.loads((project.root / "reports" / "promotion.json").read_text())
    assert int(promotion["challenger"]["version"]) == int(orphan.version) + 1
    assert ORPHAN_TAG not in versions[promotion["challenger"]["version"]].tags
