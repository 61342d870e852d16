"""`taxonomist label export NODE --strategy uncertain`: the images the live stack is least
sure of at NODE, by its calibrated probabilities; refused, writing nothing, with no @live."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from taxonomist.cli import main
from taxonomist.labels.batch import Pick, pick
from tests.labels.conftest import DigitsProject
from tests.serve.stacks import Registry

ROUND = ["zero", "six", "eight", "nine"]


def export_uncertain(project: DigitsProject, n: int) -> int:
    return main(["--config-dir", str(project.conf), "label", "export", "round", "--n", str(n),
                 "--strategy", "uncertain"])


def test_uncertain_takes_the_least_confident_first_and_needs_the_confidence() -> None:
    rows = pd.DataFrame({"label": ["a"] * 5}, index=[10, 11, 12, 13, 14])
    sure = pd.Series([0.9, 0.3, 0.8, 0.2, 0.7], index=rows.index)
    assert list(pick(rows, 3, Pick.uncertain, "s", sure).index) == [13, 11, 14]
    with pytest.raises(ValueError, match="needs the live stack's confidence"):
        pick(rows, 3, Pick.uncertain, "s")


def test_uncertain_exports_the_images_the_live_stack_is_least_sure_of_at_the_node(
    live_digits: DigitsProject, live_predictor, live_registry: Registry, capsys
) -> None:
    ids = live_digits.ingest([ROUND[i % 4] for i in range(len(live_digits.images))])
    at_round = live_predictor.node_outputs(live_digits.images, everywhere=True).probs["round"]
    least_sure = [ids[i] for i in at_round.max(axis=1).argsort()[:3]]
    assert export_uncertain(live_digits, 3) == 0, capsys.readouterr().err
    (folder,) = live_digits.paths.label_batches.iterdir()
    tasks = pd.read_csv(folder / "tasks.csv")
    assert set(tasks["task_id"]) == set(least_sure)
    recorded = json.loads((folder / "batch.json").read_text())["ranked_by"]
    assert recorded == f"{live_registry.name} v{live_registry.versions[0]} (@live)"
    assert (folder / "mturk_input.csv").is_file()
    assert (folder / "label_studio_tasks.json").is_file()


def test_uncertain_without_a_live_stack_is_refused_and_writes_nothing(
    unserved_digits: DigitsProject, capsys
) -> None:
    unserved_digits.ingest(["six"] * len(unserved_digits.images))
    assert export_uncertain(unserved_digits, 3) == 2
    said = capsys.readouterr().err
    assert "--strategy uncertain needs the live stack" in said
    assert "digits.stack holds @live" in said and "run `dvc repro`" in said
    assert not unserved_digits.paths.label_batches.exists()
