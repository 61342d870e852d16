"""`taxonomist label queue`: images the crowd answered about or the live stack contradicts,
ranked by disagreement (only out-of-sample contradictions count), with a decisions CSV
for `label apply`; a label file naming an image not in the manifest writes nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from taxonomist.cli import main
from taxonomist.contracts.labels import CROWD_COLUMNS
from taxonomist.labels.decisions import apply_decisions
from taxonomist.labels.live import load_live
from taxonomist.labels.queue import contradiction, disagreement
from taxonomist.labels.queue_page import label_queue
from taxonomist.stack.predictor import Prediction, Stop
from tests.labels.conftest import CONTRADICTED, DigitsProject, Disputed, disputed


@pytest.mark.parametrize("agreement, contradicts, out_of_sample, score", [
    (None, 0.0, True, 0.0),  # nothing disputed
    (1.0, 0.0, True, 0.0),  # a unanimous crowd
    (2 / 3, 0.0, False, 1 / 3),  # two workers to one
    (1 / 3, 0.0, True, 2 / 3),  # three ways
    (None, 0.9, True, 0.9),  # a held-out image the stack sends elsewhere
    (None, 0.9, False, 0.0),  # in sample: the stack was fitted to that label
    (1 / 3, 0.9, True, 2 / 3 + 0.9),
])
def test_the_score_adds_crowd_disagreement_and_out_of_sample_contradiction(
    agreement, contradicts, out_of_sample, score
) -> None:
    assert disagreement(agreement, contradicts, out_of_sample) == pytest.approx(score)


@pytest.mark.parametrize("label, expected", [
    ("circle", 0.0),  # the walk reached the label
    ("oval", 0.7),  # the right family, the wrong leaf
    ("square", 0.9),  # another family, at the root
])
def test_a_contradiction_is_the_probability_of_the_first_class_off_the_label_path(
    shapes, label: str, expected: float
) -> None:
    assert contradiction(Prediction(["round", "circle"], [0.9, 0.7]), label, shapes) == expected


def test_a_walk_that_stopped_above_the_label_contradicts_nothing(shapes) -> None:
    stopped = Prediction(["round"], [0.9], Stop("round", "oval", 0.4, 0.5))
    assert contradiction(stopped, "circle", shapes) == 0.0


@pytest.fixture
def queued(live_digits: DigitsProject) -> tuple[Disputed, pd.DataFrame]:
    case = disputed(live_digits)
    paths, config = live_digits.paths, live_digits.config
    stack = load_live(config.project.mlflow, config.taxonomy.name, paths)
    page = label_queue(pd.read_parquet(paths.manifest), "digit", config.taxonomy, paths,
                       stack, limit=100)
    return case, page.rows.set_index("id")


def test_the_queue_ranks_crowd_disputes_and_out_of_sample_contradictions(queued) -> None:
    case, rows = queued
    ids = case.ids
    assert set(rows.index) == {ids[i] for i in (0, 1, 2, 3, 4)}  # 5-7: nothing disputed
    assert list(rows.index)[0] == ids[0]
    assert rows["score"].is_monotonic_decreasing
    walk = {i: case.project.guesses[i] for i in CONTRADICTED}
    crowd = pytest.approx  # labels/crowd.csv keeps agreement to 3 decimals
    assert rows.loc[ids[0], "score"] == crowd(2 / 3 + walk[0].probs[0], abs=1e-3)
    assert rows.loc[ids[1], "score"] == crowd(1 / 3, abs=1e-3)
    assert rows.loc[ids[1], "votes"] == "one: 2, two: 1"
    assert rows.loc[ids[2], "score"] == 0.0
    assert rows.loc[ids[4], "score"] == pytest.approx(walk[4].probs[0])
    assert bool(rows.loc[ids[4], "likely_error"]) is (walk[4].probs[0] >= 0.5)
    in_sample = rows.loc[ids[3]]
    assert (in_sample["score"], bool(in_sample["out_of_sample"])) == (0.0, False)
    assert in_sample["contradiction"] == pytest.approx(walk[3].probs[0])
    assert in_sample["guess"] == "/".join(walk[3].path)
    assert in_sample["guess_probability"] == pytest.approx(np.prod(walk[3].probs))


def test_the_decisions_csv_is_prefilled_for_label_apply(live_digits: DigitsProject,
                                                       capsys) -> None:
    case = disputed(live_digits)
    paths = live_digits.paths
    assert main(["--config-dir", str(live_digits.conf), "label", "queue", "--limit", "3"]) == 0
    said = capsys.readouterr().out
    assert "3 of 5 queued images in reports/labels/queue.html" in said
    assert "taxonomist label apply reports/labels/decisions.csv" in said
    table = pd.read_csv(paths.label_decisions, dtype=str, keep_default_na=False)
    assert list(table.columns[:3]) == ["image", "label", "excluded"]
    assert table["image"].iloc[0] == case.ids[0]
    crowd = pd.read_csv(paths.labels / "crowd.csv", dtype=str).set_index("id")["label"]
    assert table.set_index("image").loc[case.ids[1], "label"] == crowd[case.ids[1]] == "one"
    manifest = pd.read_parquet(paths.manifest)
    assert apply_decisions(paths.label_decisions, manifest, live_digits.config.taxonomy,
                           paths) == 3


def test_a_crowd_csv_naming_an_image_not_in_the_manifest_writes_nothing(
    live_digits: DigitsProject, capsys
) -> None:
    ids = live_digits.ingest([g.label for g in live_digits.guesses])
    crowd = live_digits.paths.labels / "crowd.csv"
    crowd.parent.mkdir(parents=True, exist_ok=True)
    rows = [dict.fromkeys(CROWD_COLUMNS, "") | {"id": image, "label": "one"}
            for image in (ids[0], "f" * 64)]
    pd.DataFrame(rows).to_csv(crowd, index=False)
    assert main(["--config-dir", str(live_digits.conf), "label", "queue"]) == 2
    said = capsys.readouterr().err
    assert f"{crowd} line 3: image '{'f' * 64}' is not in " in said
    assert not live_digits.paths.label_queue.parent.exists()


def test_without_a_live_stack_the_queue_is_the_crowd_s(unserved_digits: DigitsProject,
                                                      capsys) -> None:
    case = disputed(unserved_digits)
    assert main(["--config-dir", str(unserved_digits.conf), "label", "queue"]) == 0
    assert "guessed by no live stack" in capsys.readouterr().out
    table = pd.read_csv(unserved_digits.paths.label_decisions, dtype=str)
    assert list(table["image"]) == [case.ids[i] for i in (0, 1, 2)]  # by the crowd alone
    assert "no version holds @live" in unserved_digits.paths.label_queue.read_text()
