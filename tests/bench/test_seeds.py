"""The seeds bench's statistics: intervals and the paired verdict across seeds."""

from __future__ import annotations

import pytest
from scipy import stats

from bench.seeds import interval, paired, tables


def test_the_interval_is_the_95_percent_t_interval_around_the_mean() -> None:
    figure = interval([0.90, 0.92, 0.94])
    half = stats.t.ppf(0.975, 2) * 0.02 / 3 ** 0.5  # sd 0.02 over three seeds
    assert figure.value == pytest.approx(0.92)
    assert figure.interval == pytest.approx((0.92 - half, 0.92 + half))


def test_a_gain_on_every_seed_is_better_and_one_that_swings_is_a_tie() -> None:
    flat = [0.90, 0.91, 0.92, 0.93, 0.94]
    gain, verdict = paired([f + 0.02 + d for f, d in zip(flat, [0, .001, -.001, .002, 0],
                                                           strict=True)], flat)
    assert verdict.startswith("better") and gain.value == pytest.approx(0.0204)
    _, verdict = paired([f + d for f, d in zip(flat, [.02, -.02, .01, -.01, 0],
                                               strict=True)], flat)
    assert verdict.startswith("tie (paired t-test")
    _, verdict = paired([f - 0.02 for f in flat], [f + 0.001 * i for i, f in enumerate(flat)])
    assert verdict.startswith("worse")


def test_the_headline_puts_the_three_side_by_side() -> None:
    run = {"stack": 0.95, "stack_with_stops": 0.94, "coverage": 0.98, "flat": 0.94,
           "svc": 0.90, "stack_mistake_distance": 2.0, "flat_mistake_distance": 3.0,
           "accuracy_depth_1": 0.99}
    headline, depth, per_seed = tables({1: run, 2: {**run, "stack": 0.96}})
    assert [row[0] for row in headline.rows][:3] == [
        "the stack", "one flat network", "SVC on grey pixels"]
    assert headline.rows[0][1].value == pytest.approx(0.955)
    assert [row[0] for row in depth.rows] == ["1"] and len(per_seed.rows) == 2
