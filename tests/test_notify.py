from __future__ import annotations

import json
from pathlib import Path

import pytest

from taxonomist.config import NotifyConfig
from taxonomist.contracts.promotion import PromotionRecord
from taxonomist.errors import ConfigError
from taxonomist.notify import (
    Notification,
    Notifier,
    OutboxNotifier,
    notification_from_promotion,
    notifier_for,
)

CARD = Path("reports/model_card.html")


def promotion(decision: str, live: bool, reason: str = "leaf_accuracy improved") -> dict:
    return {
        "decision": decision,
        "reason": reason,
        "metric": "leaf_accuracy",
        "registered_model": "digits.stack",
        "challenger": {"version": "3", "run_id": "r3",
                       "metrics": {"leaf_accuracy": 0.962, "n_test": 80,
                                   "per_class_recall": {"six": 0.8}}},
        "live_before": {"version": "2", "run_id": "r2", "metrics": {"leaf_accuracy": 0.95}}
        if live else None,
        "live_after": "3" if decision == "promote" else ("2" if live else None),
        "difference": 0.012 if live else None,
        "class_recall_drops": {"six": 0.1} if decision != "promote" else {},
        "tracking_uri": "sqlite:///mlflow/mlflow.db",
        "timestamp": "2025-01-02T03:04:05+00:00",
    }


def promotion_record(
    decision: str, live: bool, reason: str = "leaf_accuracy improved"
) -> PromotionRecord:
    """:func:`promotion` as the notify stage reads it."""
    return PromotionRecord.from_json(promotion(decision, live, reason))


@pytest.mark.parametrize(("record", "title"), [
    (promotion("promote", live=True),
     "digits.stack v3 promoted to live: leaf_accuracy 0.962 (+0.012 vs v2)"),
    (promotion("promote", live=False),
     "digits.stack v3 promoted to live: leaf_accuracy 0.962 (first live version)"),
    (promotion("needs_investigation", live=True, reason="class recall fell: six (-0.100)"),
     "digits.stack v3 needs investigation: class recall fell: six (-0.100)"),
    (promotion("investigate", live=True, reason="inconclusive: leaf_accuracy +0.0010"),
     "digits.stack v3 needs investigation: inconclusive: leaf_accuracy +0.0010"),
    (promotion("reject", live=True, reason="significantly worse; worse: node 'round'"),
     "digits.stack v3 rejected: significantly worse; worse: node 'round'"),
])
def test_titles_read_as_a_sentence(record: dict, title: str) -> None:
    assert notification_from_promotion(PromotionRecord.from_json(record), CARD).title == title


def test_notification_carries_the_numbers_and_the_card() -> None:
    note = notification_from_promotion(promotion_record("needs_investigation", live=True), CARD)
    # an older record's "needs_investigation" reads as the one name it has now
    assert (note.decision, note.model, note.version) == ("investigate", "digits.stack", "3")
    assert note.metrics == {"leaf_accuracy": 0.962, "n_test": 80.0}  # scalars only
    assert note.card_path == CARD
    assert note.timestamp == "2025-01-02T03:04:05+00:00"
    assert "Live before, v2: leaf_accuracy 0.950" in note.text
    assert "Recall fell for: six (-0.100)" in note.text
    assert "Live now: v2" in note.text
    assert f"Model card: {CARD}" in note.text


def test_outbox_appends_one_json_line_per_send(tmp_path: Path) -> None:
    outbox = tmp_path / "deep" / "er" / "outbox.jsonl"
    notifier = OutboxNotifier(outbox)
    first = notification_from_promotion(promotion_record("promote", live=False), CARD)
    second = notification_from_promotion(promotion_record("needs_investigation", live=True), CARD)
    notifier.send(first)
    notifier.send(second)
    lines = outbox.read_text().splitlines()
    assert [json.loads(line)["decision"] for line in lines] == ["promote", "investigate"]
    assert json.loads(lines[0]) == {**first.as_dict(), "card_path": str(CARD)}
    OutboxNotifier(outbox).send(first)  # a new notifier on the same file: still appends
    assert len(outbox.read_text().splitlines()) == 3


def test_notifier_for_outbox_resolves_from_the_root(tmp_path: Path) -> None:
    notifier = notifier_for(NotifyConfig(kind="outbox", outbox="reports/outbox.jsonl"), tmp_path)
    assert isinstance(notifier, OutboxNotifier)
    assert notifier.path == tmp_path / "reports" / "outbox.jsonl"


@pytest.mark.parametrize(("kind", "hint"), [
    ("outbx", "did you mean 'outbox'"), ("slak", "did you mean 'slack'"), ("teams", ""),
])
def test_unknown_kind_lists_the_valid_ones(tmp_path: Path, kind: str, hint: str) -> None:
    with pytest.raises(ConfigError, match=f"conf/notify/{kind}.yaml: kind: unknown notifier "
                                          f"kind '{kind}'; valid kinds: outbox, slack, "
                                          "email") as err:
        notifier_for(NotifyConfig(kind=kind), tmp_path)
    assert hint in str(err.value)


def test_a_notifier_fills_in_one_hook() -> None:
    class Recorder(Notifier):
        def __init__(self) -> None:
            self.sent: list[Notification] = []

        def send(self, notification: Notification) -> None:
            self.sent.append(notification)

    recorder = Recorder()
    recorder.send(notification_from_promotion(promotion_record("promote", live=True), CARD))
    assert recorder.sent[0].version == "3"
    with pytest.raises(TypeError):
        Notifier()  # type: ignore[abstract]
