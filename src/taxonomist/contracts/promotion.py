"""``reports/promotion.json``: what the promote stage decided, and every number behind it.

The promote stage writes one :class:`PromotionRecord`; the model card, the pull-request
summary, the notify stage and the CLI read it back through :meth:`PromotionRecord.read`.
Its JSON shape::

    {"decision": "investigate", "reason": "...", "difference": 0.012,
     "comparison": {"difference": 0.012, "ci_low": 0.004, ...},   # null: nothing compared
     "checks": [{"scope": "node", "name": "round", ..., "status": "ok"}, ...],
     "failing": [...],                                           # the checks not "ok"
     "metric": "leaf_accuracy", "registered_model": "digits.stack",
     "challenger": {"version": "3", "run_id": "...", "metrics": {...}},
     "live_before": {"version": "2", "metrics": {...}},          # null: nothing was live
     "live_after": "3", "timestamp": "...", "tracking_uri": "..."}

Reading is tolerant exactly where older files differ: ``"needs_investigation"`` (the
decision before there were three outcomes) reads as :attr:`Outcome.INVESTIGATE`, a file
without ``comparison`` or ``checks`` (a first promotion, or written before them) has none,
and an older file's ``class_recall_drops`` is kept. Anywhere else a missing, renamed or
mistyped key raises :class:`~taxonomist.errors.DataError` naming the file and the key.
The two statistics blocks are declared in :mod:`taxonomist.contracts.comparison`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from taxonomist.contracts.comparison import (
    SOURCE,
    STAGE,
    Check,
    PairedComparison,
    as_object,
    checks_from_json,
    parse_choice,
)
from taxonomist.contracts.files import number_or_none, read_json_object, required

_OLD_OUTCOMES = {"needs_investigation": "investigate"}  # promotion.json before three outcomes
# Gate metrics with continuous per-image values: their p-value is a Wilcoxon signed-rank
# test; every other gate metric is right/wrong per image, tested with McNemar's.
CONTINUOUS_METRICS = frozenset({"hierarchical_f1", "distance_at_1"})
# The stack metric a gate metric is read from, where the names differ: the gate on
# coverage_at_precision compares coverage (on condition of precision where walks stop).
STACK_METRIC_OF = {"coverage_at_precision": "coverage"}


def p_value_test(metric: str) -> str:
    """The test behind the gate's p-value for ``metric``: ``"Wilcoxon"`` or ``"McNemar"``."""
    return "Wilcoxon" if metric in CONTINUOUS_METRICS else "McNemar"


class Outcome(StrEnum):
    """What the promotion gate decided."""

    PROMOTE = "promote"  # significantly better, or non-inferior everywhere and better enough
    REJECT = "reject"  # significantly worse
    INVESTIGATE = "investigate"  # anything else: a person looks

    @property
    def words(self) -> str:
        """What the decision did, as every report words it, e.g. ``"promoted to live"``."""
        return _OUTCOME_WORDS[self]


# The card, its summary, the registry's description and the notifications all say these.
_OUTCOME_WORDS = {
    Outcome.PROMOTE: "promoted to live",
    Outcome.REJECT: "rejected",
    Outcome.INVESTIGATE: "needs investigation",
}
NO_CHANGE_WORDS = "no change (already live)"  # a rerun whose challenger already held @live


@dataclass(frozen=True)
class Verdict:
    """What the promotion rule decided and why: the first keys of promotion.json.

    Attributes:
        decision: the outcome.
        reason: one line with the numbers, e.g. ``"significantly better: ..."``.
        difference: the paired difference of the primary metric; None when nothing was
            compared (a first promotion, or the challenger already live).
        comparison: the paired statistics behind ``difference``, or None likewise.
        checks: every node/class non-inferiority check, empty when there were none.
        failing: the checks whose status is not ``ok`` (derived from ``checks`` unless given).
    """

    decision: Outcome
    reason: str
    difference: float | None = None
    comparison: PairedComparison | None = None
    checks: list[Check] = field(default_factory=list)
    failing: list[Check] | None = None

    def __post_init__(self) -> None:
        if self.failing is None:  # frozen: set once, from the checks themselves
            object.__setattr__(self, "failing", [c for c in self.checks if c.failed])

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision.value,
            "reason": self.reason,
            "difference": self.difference,
            "comparison": None if self.comparison is None else self.comparison.to_json(),
            "checks": [c.to_json() for c in self.checks],
            "failing": [c.to_json() for c in self.failing or []],
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any], source: str = SOURCE) -> Verdict:
        raw = required(record, "decision", source, STAGE)
        block, checks, failing = (record.get(k) for k in ("comparison", "checks", "failing"))
        return cls(
            decision=parse_choice(Outcome, _OLD_OUTCOMES.get(raw, raw), "decision", source),
            reason=str(record.get("reason", "")),
            difference=number_or_none(record.get("difference")),
            comparison=None if block is None else PairedComparison.from_json(
                as_object(block, "comparison", source), source),
            checks=[] if checks is None else checks_from_json(checks, "checks", source),
            failing=None if failing is None else checks_from_json(failing, "failing", source),
        )


@dataclass(frozen=True)
class StackSide:
    """One stack in the record: its registered version, its run and its stack metrics.

    Attributes:
        version: the registered version, e.g. ``"3"``.
        metrics: what ``metrics/stack.json`` held for it (any keys; numbers are scalars).
        run_id: the run that logged it; None where the file does not say (``live_before``
            as the promote stage writes it).
    """

    version: str
    metrics: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        head = {"version": self.version}
        run = {} if self.run_id is None else {"run_id": self.run_id}
        return head | run | {"metrics": self.metrics}

    @classmethod
    def from_json(cls, block: Any, key: str, source: str = SOURCE) -> StackSide:
        block = as_object(block, key, source)
        run_id = block.get("run_id")
        return cls(
            version=str(required(block, "version", source, STAGE, f"{key}.")),
            metrics=dict(block.get("metrics") or {}),
            run_id=None if run_id is None else str(run_id),
        )


@dataclass(frozen=True)
class PromotionRecord:
    """All of ``reports/promotion.json``.

    Attributes:
        verdict: the decision, its reason and the statistics behind it.
        metric: the metric the decision was taken on, e.g. ``"leaf_accuracy"``.
        registered_model: the stack's registered model, e.g. ``"digits.stack"``.
        challenger: the version the stack stage registered.
        live_before: the version that held ``@live`` when it was compared, or None.
        live_after: the version holding ``@live`` after the decision, or None.
        timestamp: when the decision was taken (ISO 8601, UTC).
        tracking_uri: the MLflow tracking URI both versions live under.
        class_recall_drops: an older file's drops in recall per class, else empty.

    Example:
        >>> record = PromotionRecord.read(Path("reports/promotion.json"))  # doctest: +SKIP
        >>> record.verdict.decision, record.challenger.version, record.live_version
        (<Outcome.PROMOTE: 'promote'>, '3', '2')
    """

    verdict: Verdict
    metric: str
    registered_model: str
    challenger: StackSide
    live_before: StackSide | None
    live_after: str | None
    timestamp: str
    tracking_uri: str = ""
    class_recall_drops: dict[str, float] = field(default_factory=dict)

    @property
    def promoted(self) -> bool:
        return self.verdict.decision == Outcome.PROMOTE

    @property
    def live_version(self) -> str | None:
        return None if self.live_before is None else self.live_before.version

    @property
    def unchanged(self) -> bool:
        """The challenger already held ``@live`` (a rerun that changed nothing): the
        decision moved nothing, and the live version's own evidence stands."""
        return self.live_version is not None and self.live_version == self.challenger.version

    @property
    def stack_metric(self) -> str:
        """The stack metric :attr:`metric` is read from (coverage_at_precision: coverage)."""
        return STACK_METRIC_OF.get(self.metric, self.metric)

    @property
    def p_value_test(self) -> str:
        """The test the comparison's p-value comes from (older records say nothing: the
        rule has always picked it from the metric)."""
        return p_value_test(self.metric)

    @property
    def challenger_value(self) -> float | None:
        """The challenger's value of :attr:`metric`, None if it did not record one."""
        return number_or_none(self.challenger.metrics.get(self.stack_metric))

    @property
    def live_value(self) -> float | None:
        metrics = {} if self.live_before is None else self.live_before.metrics
        return number_or_none(metrics.get(self.stack_metric))

    def to_json(self) -> dict[str, Any]:
        drops = {"class_recall_drops": self.class_recall_drops} if self.class_recall_drops else {}
        return {
            **self.verdict.to_json(),
            "metric": self.metric,
            "registered_model": self.registered_model,
            "challenger": self.challenger.to_json(),
            "live_before": None if self.live_before is None else self.live_before.to_json(),
            "live_after": self.live_after,
            **drops,
            "timestamp": self.timestamp,
            "tracking_uri": self.tracking_uri,
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any], source: str = SOURCE) -> PromotionRecord:
        """Raises: DataError: a key the record needs is missing or wrong (see the module)."""
        live = record.get("live_before") or None
        after = record.get("live_after")
        return cls(
            verdict=Verdict.from_json(record, source),
            metric=str(record.get("metric", "leaf_accuracy")),
            registered_model=str(required(record, "registered_model", source, STAGE)),
            challenger=StackSide.from_json(
                required(record, "challenger", source, STAGE), "challenger", source),
            live_before=None if live is None else StackSide.from_json(live, "live_before", source),
            live_after=None if after is None else str(after),
            timestamp=str(record.get("timestamp", "")),
            tracking_uri=str(record.get("tracking_uri", "")),
            class_recall_drops=dict(record.get("class_recall_drops") or {}),
        )

    @classmethod
    def read(cls, path: Path) -> PromotionRecord:
        """Read the file the promote stage wrote.

        Raises:
            DataError: it is missing (run ``dvc repro promote``), broken, or a key is
                missing or wrong; the message names the file and the key.
        """
        return cls.from_json(read_json_object(path, STAGE), str(path))
