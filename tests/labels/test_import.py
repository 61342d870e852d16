"""`taxonomist label import`: answers aggregated by crowd-kit, recorded for the next
ingest, which applies them as label_source=crowd; bad input refused, changing nothing."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from taxonomist.config import Aggregation, Paths
from taxonomist.data import ingest
from taxonomist.data.history import read_history
from taxonomist.errors import DataError
from taxonomist.labels.batch import Batch
from taxonomist.labels.crowd import import_answers
from taxonomist.taxonomy import Taxonomy
from tests.labels.conftest import (
    MTURK_HEADER,
    label_studio_export,
    mturk_results,
    tasks,
    three_workers,
)


def crowd_rows(paths: Paths) -> pd.DataFrame:
    return pd.read_csv(paths.labels / "crowd.csv", dtype=str, keep_default_na=False)


def workers(paths: Paths) -> pd.DataFrame:
    return pd.read_csv(paths.crowd_workers, keep_default_na=False).set_index("worker")


def test_mturk_answers_are_aggregated_with_worker_quality_and_agreement(
    ingested, batch: Batch, tmp_path: Path
) -> None:
    paths, _ = ingested
    ids = tasks(batch, paths)
    results = mturk_results(tmp_path / "results.csv", batch, three_workers(ids))
    imported = import_answers(results, paths, Aggregation.dawid_skene)
    crowd = crowd_rows(paths).set_index("id")
    assert (imported.answers, imported.images, imported.unanimous) == (18, 6, 4)
    assert set(crowd["label"]) == {"circle"}
    assert crowd.loc[ids[0], "label_workers"] == "3"
    assert float(crowd.loc[ids[0], "label_agreement"]) == pytest.approx(2 / 3, abs=1e-3)
    assert float(crowd.loc[ids[5], "label_agreement"]) == 1.0
    quality = workers(paths)["quality"]
    assert quality["w3"] < quality["w1"]
    assert len(pd.read_csv(paths.crowd_answers)) == 18


def test_a_label_studio_export_is_read_like_mturk_results(
    ingested, batch: Batch, tmp_path: Path
) -> None:
    paths, _ = ingested
    answers = three_workers(tasks(batch, paths))
    imported = import_answers(label_studio_export(tmp_path / "export.json", batch, answers),
                              paths, Aggregation.dawid_skene)
    assert (imported.answers, imported.images) == (18, 6)
    assert set(workers(paths).index) == {1, 2, 3}


@pytest.mark.parametrize("method", list(Aggregation))
def test_the_aggregation_method_is_the_one_configured(
    ingested, batch: Batch, tmp_path: Path, method: Aggregation
) -> None:
    paths, _ = ingested
    results = mturk_results(tmp_path / "results.csv", batch, three_workers(tasks(batch, paths)))
    import_answers(results, paths, method)
    table = workers(paths)
    assert set(table["method"]) == {method.value}
    # majority vote's quality is the share of a worker's answers that agree with the label;
    # one-coin's fitted accuracy comes to the same here, where every label is near certain
    share = bool(table.loc["w3", "quality"] == pytest.approx(4 / 6))
    assert share is (method in (Aggregation.majority_vote, Aggregation.one_coin_dawid_skene))


def test_importing_the_same_results_twice_replaces_rather_than_adds(
    ingested, batch: Batch, tmp_path: Path
) -> None:
    paths, _ = ingested
    results = mturk_results(tmp_path / "results.csv", batch, three_workers(tasks(batch, paths)))
    import_answers(results, paths, Aggregation.dawid_skene)
    import_answers(results, paths, Aggregation.dawid_skene)
    assert len(crowd_rows(paths)) == 6
    assert len(pd.read_csv(paths.crowd_answers)) == 18


def test_the_next_ingest_applies_the_crowd_label_with_its_provenance(
    ingested, batch: Batch, shapes: Taxonomy, tmp_path: Path
) -> None:
    paths, folder = ingested
    results = mturk_results(tmp_path / "results.csv", batch, three_workers(tasks(batch, paths)))
    import_answers(results, paths, Aggregation.dawid_skene)
    result = ingest(folder.source(), shapes, paths)
    manifest = pd.read_parquet(paths.manifest).set_index("path")
    assert set(manifest["label"]) == {"circle"}
    assert set(manifest["label_source"]) == {"crowd"}
    assert set(manifest["label_workers"]) == {"3"}
    assert manifest.loc["0.png", "label_agreement"] != ""
    assert result.corrected == 6
    history = read_history(paths.label_history)
    relabelled = history[(history["column"] == "label") & (history["outcome"] == "applied")]
    assert sorted(relabelled["old"]) == ["oval"] * 3
    assert relabelled["origin"].str.startswith("labels/crowd.csv line ").all()
    again = ingest(folder.source(), shapes, paths)  # the source still says oval: overruled
    assert again.corrected == 0
    assert set(pd.read_parquet(paths.manifest)["label"]) == {"circle"}


def _expired_url() -> str:
    return ("https://b.s3.amazonaws.com/0.png?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Date=20240314T170000Z&X-Amz-Expires=60&X-Amz-Signature=ab")


BAD_RESULTS = {
    "unknown task id": (lambda ids: [("f" * 64, "w1", "circle")], {}, "line 2: task_id"),
    "outside the classes": (lambda ids: [(ids[0], "w1", "square")], {},
                            "line 2: worker w1 answered 'square'"),
    "two answers from one worker": (lambda ids: [(ids[0], "w1", "circle"),
                                                 (ids[0], "w1", "oval")], {},
                                    "line 2 and "),
    "unknown batch": (lambda ids: [(ids[0], "w1", "circle")], {"Input.batch": "round-1999"},
                      "batch 'round-1999' was never exported from this project (batches in"),
    "an expired URL": (lambda ids: [(ids[0], "w1", "circle")],
                       {"Input.image_url": _expired_url()}, "after the image URL expired"),
}


@pytest.fixture
def untouched(ingested, batch: Batch, tmp_path: Path):
    """The project's files before a refused import; the test asserts they are unchanged."""
    paths, _ = ingested
    files = [paths.manifest, paths.labels / "crowd.csv", paths.crowd_answers,
             paths.crowd_workers]

    def snapshot() -> dict[Path, bytes | None]:
        return {f: f.read_bytes() if f.is_file() else None for f in files}

    before = snapshot()
    yield paths
    assert snapshot() == before


@pytest.mark.parametrize("case", list(BAD_RESULTS))
def test_bad_results_are_refused_naming_the_file_and_row(
    untouched: Paths, batch: Batch, tmp_path: Path, case: str
) -> None:
    answers, overrides, said = BAD_RESULTS[case]
    good = three_workers(tasks(batch, untouched))  # good rows first: all or nothing
    rows = good + answers(tasks(batch, untouched))
    file = mturk_results(tmp_path / "results.csv", batch, rows)
    if overrides:
        file = mturk_results(tmp_path / "results.csv", batch, rows[-1:], **overrides)
    with pytest.raises(DataError) as refused:
        import_answers(file, untouched, Aggregation.dawid_skene)
    assert str(file) in str(refused.value)
    assert said in str(refused.value).replace(f"line {len(rows) + 1}", "line 2")


@pytest.mark.parametrize("content, said", [
    ("", "empty"),
    (",".join(MTURK_HEADER) + "\nHIT1,T1,A1,w1\n", "line 2: 4 of the 12 columns; the file "
     "is truncated"),
    ("WorkerId,Answer.label\nw1,circle\n", "missing column(s) HITId"),
])
def test_an_empty_truncated_or_foreign_csv_is_refused(
    untouched: Paths, tmp_path: Path, content: str, said: str
) -> None:
    file = tmp_path / "results.csv"
    file.write_text(content)
    with pytest.raises(DataError, match="results.csv") as refused:
        import_answers(file, untouched, Aggregation.dawid_skene)
    assert said in str(refused.value)


def test_a_label_studio_export_of_another_project_is_refused(
    untouched: Paths, tmp_path: Path
) -> None:
    file = tmp_path / "export.json"
    file.write_text('[{"id": 41, "data": {"image": "s3://x/y.png"}, "annotations": []}]')
    with pytest.raises(DataError, match=r"export.json task 41: .*another Label Studio"):
        import_answers(file, untouched, Aggregation.dawid_skene)


def test_a_truncated_label_studio_export_is_refused(
    untouched: Paths, batch: Batch, tmp_path: Path
) -> None:
    whole = label_studio_export(tmp_path / "export.json", batch,
                                three_workers(tasks(batch, untouched)))
    whole.write_text(whole.read_text()[:-40])
    with pytest.raises(DataError, match=r"export.json: not valid JSON at line 1.*truncated"):
        import_answers(whole, untouched, Aggregation.dawid_skene)


# The Requester UI's "Download CSV" of a batch's results, column for column: each HIT's
# and assignment's fields, the batch's Input.* and the form's Answer.*, then the Approve
# and Reject columns a requester fills in to review offline.
REQUESTER_UI_COLUMNS = (
    "HITId", "HITTypeId", "Title", "Description", "Keywords", "Reward", "CreationTime",
    "MaxAssignments", "RequesterAnnotation", "AssignmentDurationInSeconds",
    "AutoApprovalDelayInSeconds", "Expiration", "NumberOfSimilarHITs", "LifetimeInSeconds",
    "AssignmentId", "WorkerId", "AssignmentStatus", "AcceptTime", "SubmitTime",
    "AutoApprovalTime", "ApprovalTime", "RejectionTime", "RequesterFeedback",
    "WorkTimeInSeconds", "LifetimeApprovalRate", "Last30DaysApprovalRate",
    "Last7DaysApprovalRate", "Input.batch", "Input.task_id", "Input.node", "Input.classes",
    "Input.image_url", "Answer.label", "Approve", "Reject",
)


def test_mechanical_turk_s_own_results_csv_is_read_and_its_rejected_assignments_skipped(
    ingested, batch: Batch, tmp_path: Path
) -> None:
    paths, _ = ingested
    answers = three_workers(tasks(batch, paths))
    file = tmp_path / "Batch_5123456_batch_results.csv"
    with file.open("w", newline="") as out:
        writer = csv.DictWriter(out, REQUESTER_UI_COLUMNS, quoting=csv.QUOTE_ALL)
        writer.writeheader()
        for n, (task, worker, label) in enumerate(answers):
            writer.writerow({
                "HITId": f"3X{task[:10]}", "AssignmentId": f"3A{n:08d}", "WorkerId": worker,
                "AssignmentStatus": "Rejected" if n == 0 else "Approved",
                "SubmitTime": "Thu Mar 14 10:52:38 PDT 2024", "Input.batch": batch.batch,
                "Input.task_id": task, "Input.node": batch.node,
                "Input.classes": "|".join(batch.classes),
                "Input.image_url": "file:///x.png", "Answer.label": label, "Approve": "x"})
    imported = import_answers(file, paths, Aggregation.one_coin_dawid_skene)
    assert (imported.answers, imported.images) == (len(answers) - 1, 6)
