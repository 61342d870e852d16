from __future__ import annotations

import json
from pathlib import Path

import pytest

from taxonomist.contracts.metrics import NodeMetrics, StackMetrics
from taxonomist.contracts.promotion import PromotionRecord
from taxonomist.errors import DataError
from taxonomist.report.data_summary import load_rejects
from taxonomist.report.lineage import dvc_hashes
from tests.report.make_inputs import MANIFEST_MD5, write_inputs


def test_depth_accuracies_sort_by_number(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    metrics = {f"accuracy_depth_{d}": d / 100 for d in (10, 2, 1)}
    path.write_text(json.dumps({"leaf_accuracy": 0.5, **metrics}))
    assert StackMetrics.read(path).depth_accuracy == [(1, 0.01), (2, 0.02), (10, 0.1)]


def test_node_metrics_missing_a_key_names_it(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)
    paths.node_metrics("round").write_text(json.dumps({"accuracy": 0.9}))
    with pytest.raises(DataError, match=r"round\.json: expected key 'macro_f1'"):
        NodeMetrics.read(paths.node_metrics("round"), "round")


def test_node_metrics_per_class_rows_come_from_the_csv(tmp_path: Path) -> None:
    written = NodeMetrics.from_json(
        {"accuracy": 0.9, "macro_f1": 0.8, "ece": 0.05, "classes": ["zero", "six"],
         "per_class": {"zero": {"precision": 1.0, "recall": 0.75, "f1": 0.8571, "support": 4},
                       "six": {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1}}},
        "test", "round",
    )
    written.write(tmp_path / "round.json", tmp_path / "plots" / "per_class.csv")
    assert json.loads((tmp_path / "round.json").read_text()) == {
        "accuracy": 0.9, "macro_f1": 0.8, "ece": 0.05}
    read = NodeMetrics.read(tmp_path / "round.json", "round", tmp_path / "plots" / "per_class.csv")
    assert read.classes == written.classes and read.n_test == 5  # 4 + 1 supports
    assert read.ece == 0.05


def test_broken_json_says_how_to_remake_it(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    path.write_text("{not json")
    with pytest.raises(DataError, match=r"not valid JSON .*dvc repro stack"):
        StackMetrics.read(path)


@pytest.mark.parametrize("content", [None, "", "path,label,reason\n"])
def test_no_rejects(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "rejects.csv"
    if content is not None:
        path.write_text(content)
    assert load_rejects(path) == []


def test_rejects_without_reason_column(tmp_path: Path) -> None:
    path = tmp_path / "rejects.csv"
    path.write_text("path,label\na.png,zero\n")
    with pytest.raises(DataError, match="missing reason"):
        load_rejects(path)


def test_dvc_hashes_from_outs_and_missing_paths(tmp_path: Path) -> None:
    write_inputs(tmp_path)
    found = dvc_hashes(tmp_path / "dvc.lock", ["data/manifest.parquet", "data/other.parquet"])
    assert found == {"data/manifest.parquet": MANIFEST_MD5, "data/other.parquet": None}


def test_rejects_group_by_kind_when_reasons_name_other_files(tmp_path: Path) -> None:
    path = tmp_path / "rejects.csv"
    path.write_text(
        "path,label,reason,kind\n"
        "b.png,six,duplicate of a.png,duplicate\n"
        "d.png,six,duplicate of c.png,duplicate\n"
        "e.png,six,empty file,empty\n"
    )
    groups = load_rejects(path)
    assert [(g.reason, g.count, g.examples) for g in groups] == [
        ("duplicate", 2, ["b.png", "d.png"]),
        ("empty", 1, ["e.png"]),
    ]


@pytest.mark.parametrize(("written", "read"), [
    ("promote", "promote"), ("reject", "reject"), ("investigate", "investigate"),
    ("needs_investigation", "investigate"),  # promotion.json before three outcomes
])
def test_decisions_old_and_new(tmp_path: Path, written: str, read: str) -> None:
    paths = write_inputs(tmp_path, decision=written)
    assert PromotionRecord.read(paths.promotion).verdict.decision == read


def test_an_unknown_decision_names_the_known_ones(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)
    record = json.loads(paths.promotion.read_text()) | {"decision": "ship it"}
    paths.promotion.write_text(json.dumps(record))
    with pytest.raises(DataError, match="decision must be one of promote, reject, investigate, "
                                        "got 'ship it'"):
        PromotionRecord.read(paths.promotion)


def test_new_promotion_record_carries_comparison_checks_and_failing(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path, "investigate", new_shape=True)
    promotion = PromotionRecord.read(paths.promotion)
    verdict = promotion.verdict
    assert verdict.comparison is not None and verdict.comparison.p_value == 0.0031
    assert len(verdict.checks) == 7
    assert [(c.scope, c.name) for c in verdict.failing] == [("node", "round"), ("class", "six")]
    assert promotion.live_before.run_id == "beef" * 8
    assert promotion.class_recall_drops == {}


def test_failing_is_derived_from_checks_when_not_recorded(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path, "investigate", new_shape=True)
    record = json.loads(paths.promotion.read_text())
    del record["failing"]
    paths.promotion.write_text(json.dumps(record))
    assert [c.name for c in PromotionRecord.read(paths.promotion).verdict.failing] == [
        "round", "six"
    ]
