"""`taxonomist label apply`: the expert's decisions land through ingest as label_source
expert, above the crowd; a decision for an image not in the manifest changes nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from taxonomist.config import Aggregation
from taxonomist.data import ingest
from taxonomist.errors import DataError
from taxonomist.labels.crowd import import_answers
from taxonomist.labels.decisions import apply_decisions
from tests.labels.conftest import mturk_results, tasks, three_workers


def test_the_expert_overrules_the_crowd_and_may_exclude(ingested, batch, shapes,
                                                        tmp_path: Path) -> None:
    paths, folder = ingested
    import_answers(mturk_results(tmp_path / "r.csv", batch, three_workers(tasks(batch, paths))),
                   paths, Aggregation.dawid_skene)
    decisions = tmp_path / "decisions.csv"
    decisions.write_text("image,label,excluded\n3.png,oval,\n4.png,,unusable\n")
    manifest = pd.read_parquet(paths.manifest)
    assert apply_decisions(decisions, manifest, shapes, paths) == 2
    ingest(folder.source(), shapes, paths)
    after = pd.read_parquet(paths.manifest).set_index("path")
    assert tuple(after.loc["3.png", ["label", "label_source", "label_workers"]]) == (
        "oval", "expert", "1")
    assert tuple(after.loc["4.png", ["label", "excluded"]]) == ("circle", "unusable")
    assert after.loc["0.png", "label_source"] == "crowd"


def test_a_decision_for_an_image_not_in_the_manifest_changes_nothing(ingested, shapes,
                                                                      tmp_path: Path) -> None:
    paths, _ = ingested
    decisions = tmp_path / "decisions.csv"
    decisions.write_text("image,label\n0.png,oval\nnot-there.png,oval\n")
    expert = paths.labels / "expert.csv"
    with pytest.raises(DataError, match=r"decisions.csv line 3: no image in the manifest"):
        apply_decisions(decisions, pd.read_parquet(paths.manifest), shapes, paths)
    assert not expert.exists()
