"""`taxonomist label import` under mutated results files: each is imported or refused with
a DataError naming the file; nothing else ever escapes (strategies: tests/fuzzing.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taxonomist.config import Aggregation, Paths
from taxonomist.errors import DataError
from taxonomist.labels.batch import Batch
from taxonomist.labels.crowd import import_answers
from tests.fuzzing import mutated_text
from tests.labels.conftest import label_studio_export, mturk_results, tasks, three_workers

# One project serves every example of a test: an import that passes only replaces its
# own answers, so the examples do not depend on each other's.
FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12),
                           lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                           max_leaves=10)


@pytest.fixture
def results(ingested, batch: Batch, tmp_path: Path) -> dict[str, Path]:
    """A good MTurk results CSV and a good Label Studio export of the batch."""
    paths, _ = ingested
    answers = three_workers(tasks(batch, paths))
    return {"csv": mturk_results(tmp_path / "good.csv", batch, answers),
            "json": label_studio_export(tmp_path / "good.json", batch, answers)}


def imported_or_refused(file: Path, paths: Paths) -> None:
    try:
        import_answers(file, paths, Aggregation.dawid_skene)
    except DataError as err:
        assert str(file) in str(err), err


@st.composite
def replaced_somewhere(draw: st.DrawFn, value: Any) -> Any:
    """``value`` with one of its parts (perhaps the whole) replaced by any JSON value."""
    if not isinstance(value, list | dict) or not value or draw(st.integers(0, 3)) == 0:
        return draw(JSON_VALUES)
    keys = list(range(len(value))) if isinstance(value, list) else list(value)
    key = draw(st.sampled_from(keys))
    copy = list(value) if isinstance(value, list) else dict(value)
    copy[key] = draw(replaced_somewhere(value[key]))
    return copy


@pytest.mark.parametrize(("kind", "name"), [("csv", "results.csv"), ("json", "export.json")])
@FUZZ
@given(data=st.data())
def test_a_mutated_results_file(ingested, results, tmp_path: Path, kind: str, name: str,
                                data) -> None:
    """An MTurk results CSV or a Label Studio export, its text mutated."""
    file = tmp_path / name
    file.write_bytes(data.draw(mutated_text(results[kind].read_text())))
    imported_or_refused(file, ingested[0])


@FUZZ
@given(data=st.data())
def test_a_label_studio_export_of_another_shape(ingested, results, tmp_path, data) -> None:
    file = tmp_path / "export.json"
    export = json.loads(results["json"].read_text())
    file.write_text(json.dumps(data.draw(replaced_somewhere(export))))
    imported_or_refused(file, ingested[0])
