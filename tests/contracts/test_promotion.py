"""``reports/promotion.json`` read and written through one record: shape, tolerance, strictness."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taxonomist.contracts.comparison import Check, PairedComparison, Scope, Status
from taxonomist.contracts.promotion import Outcome, PromotionRecord
from taxonomist.errors import DataError
from tests.report.make_inputs import COMPARISON, check, checks, new_promotion, promotion

# The keys, in order, the promote stage has always written (the docs, dvc, tests read them).
WRITTEN_KEYS = ["decision", "reason", "difference", "comparison", "checks", "failing", "metric",
                "registered_model", "challenger", "live_before", "live_after", "timestamp",
                "tracking_uri"]


def test_comparison_block_is_typed() -> None:
    assert PairedComparison.from_json(COMPARISON) == PairedComparison(
        0.012, 0.004, 0.0205, 0.95, 0.0031, 312, 9, 2, "set_id"
    )


@pytest.mark.parametrize("record", [
    promotion(),  # before the comparison block existed
    promotion() | {"comparison": None},  # a first promotion
])
def test_a_record_without_a_comparison_has_none(record: dict) -> None:
    assert PromotionRecord.from_json(record).verdict.comparison is None


@pytest.mark.parametrize(("block", "message"), [
    ({"difference": 0.01}, r"expected key 'comparison\.ci_low'"),
    ({**COMPARISON, "p_value": "n/a"}, r"'comparison\.p_value' must be float, got 'n/a'"),
])
def test_a_partial_comparison_names_the_key(block: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        PromotionRecord.from_json(promotion() | {"comparison": block})


def test_a_renamed_key_in_the_comparison_block_fails_naming_file_key_and_command(
    tmp_path: Path,
) -> None:
    """The old reader returned None here, so the card silently showed less."""
    record = new_promotion("investigate")
    record["comparison"] = dict(COMPARISON)
    record["comparison"]["ci_lower"] = record["comparison"].pop("ci_low")
    path = tmp_path / "promotion.json"
    path.write_text(json.dumps(record))
    with pytest.raises(DataError) as caught:
        PromotionRecord.read(path)
    message = str(caught.value)
    assert str(path) in message and "'comparison.ci_low'" in message
    assert "ci_lower" in message  # what was found instead
    assert "dvc repro promote" in message


def test_checks_are_typed_and_an_entry_without_a_name_is_refused() -> None:
    six = Check.from_json(checks()[4])
    assert (six.scope, six.challenger, six.live, six.margin, six.status, six.failed) == (
        Scope.CLASS, 0.8, 0.95, 0.05, Status.REGRESSION, True
    )
    with pytest.raises(DataError, match=r"expected key 'checks\[7\]\.name'"):
        PromotionRecord.from_json(new_promotion() | {"checks": [*checks(), {"scope": "node"}]})
    with pytest.raises(DataError, match=r"'checks\[0\]' must be an object, got 'garbage'"):
        PromotionRecord.from_json(new_promotion() | {"checks": ["garbage"]})


def test_an_unknown_status_names_the_known_ones() -> None:
    entry = check("node", "round", 0.9, 0.95, status="meh")
    with pytest.raises(DataError, match=r"status must be one of ok, regression, inconclusive"):
        Check.from_json(entry)


@pytest.mark.parametrize(("written", "read"), [
    ("promote", Outcome.PROMOTE), ("investigate", Outcome.INVESTIGATE),
    ("needs_investigation", Outcome.INVESTIGATE),  # promotion.json before three outcomes
])
def test_old_decision_names_read_as_today(written: str, read: Outcome) -> None:
    assert PromotionRecord.from_json(promotion(written)).verdict.decision == read


def test_to_json_keeps_the_shape_the_promote_stage_writes() -> None:
    record = PromotionRecord.from_json(new_promotion("investigate"))
    data = record.to_json()
    assert list(data) == WRITTEN_KEYS
    assert data["comparison"] == COMPARISON and data["checks"] == checks()
    assert [c["name"] for c in data["failing"]] == ["round", "six"]
    assert PromotionRecord.from_json(json.loads(json.dumps(data))) == record
