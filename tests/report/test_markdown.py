"""``taxonomist report --markdown``: the pull-request summary, from files made in the test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taxonomist.cli import main
from taxonomist.config import Paths
from taxonomist.report.markdown import markdown_summary
from tests.report.make_inputs import taxonomy, write_inputs

COMPARISON = {"difference": 0.012, "ci_low": 0.004, "ci_high": 0.0205, "confidence": 0.95,
              "p_value": 0.0031, "n_images": 312, "challenger_only_correct": 9,
              "live_only_correct": 2, "resampled": "set_id"}


def check(scope: str, name: str, chal: float, live: float, status: str = "ok") -> dict:
    return {"scope": scope, "name": name, "challenger": chal, "live": live,
            "difference": round(chal - live, 4), "margin": 0.05, "n_images": 80,
            "p_value": 0.01, "p_value_adjusted": 0.02, "status": status}


def with_comparison(paths: Paths, **changes) -> None:
    record = json.loads(paths.promotion.read_text())
    failing = [check("class", "six", 0.8, 0.95, "regression")]
    record |= {"comparison": COMPARISON, "failing": failing,
               "checks": [check("node", "digit", 0.99, 0.98), check("node", "round", 0.9, 0.95,
                                                                     "inconclusive")]}
    paths.promotion.write_text(json.dumps(record | changes))


def test_decision_difference_interval_and_nodes(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)
    with_comparison(paths)
    text = markdown_summary(paths, taxonomy())
    assert text.startswith("### digits.stack v3: ✅ promote\n\n> leaf_accuracy improved by")
    assert ("| leaf_accuracy | 0.9620 | 0.9500 | **+0.0120** (95% CI +0.0040 to +0.0205; "
            "McNemar p = 0.0031; 312 images) |") in text
    assert "`@live` is now **v3**." in text
    assert "| node | accuracy | macro F1 | in stack v3 | in stack v2 | difference | check |" in text
    assert "| digit | 0.9375 | 0.8765 | 0.9900 | 0.9800 | +0.0100 | ok |" in text
    assert "| round | 0.9375 | 0.8765 | 0.9000 | 0.9500 | -0.0500 | inconclusive |" in text
    assert "| straight | 0.9375 | 0.8765 | — | — | — | — |" in text
    assert "- class `six`: -0.1500 (margin 0.050, adjusted p 0.020): regression" in text
    assert "<sub>taxonomist · run `c0ffee00c0ff` · 2025-01-02T03:04:05+00:00</sub>" in text


@pytest.mark.parametrize(("decision", "heading", "live"), [
    ("reject", "❌ reject", "`@live` stays on **v2**."),
    ("investigate", "🔍 investigate", "`@live` stays on **v2**."),
    ("needs_investigation", "🔍 investigate", "`@live` stays on **v2**."),
])
def test_each_decision_reads_as_such(
    tmp_path: Path, decision: str, heading: str, live: str
) -> None:
    paths = write_inputs(tmp_path, decision=decision)
    text = markdown_summary(paths, taxonomy())
    assert text.splitlines()[0] == f"### digits.stack v3: {heading}"
    assert live in text


def test_without_a_comparison_block_the_plain_difference_shows(tmp_path: Path) -> None:
    text = markdown_summary(write_inputs(tmp_path), taxonomy())
    assert "| leaf_accuracy | 0.9620 | 0.9500 | +0.0120 |" in text
    assert "in stack v3 | in stack v2" in text  # nodes from metrics/<node>.json alone


def test_first_promotion_says_nothing_was_live(tmp_path: Path) -> None:
    text = markdown_summary(write_inputs(tmp_path, live=False), taxonomy())
    assert "| leaf_accuracy | 0.9620 | — | nothing was live: first promotion |" in text


def test_nodes_without_metrics_or_checks_are_left_out(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)
    paths.node_metrics("straight").unlink()
    with_comparison(paths)
    text = markdown_summary(paths, taxonomy())
    assert "| straight |" not in text
    assert "| round | 0.9375 |" in text


def test_cli_prints_it_without_writing_the_card(
    project: Path, capsys: pytest.CaptureFixture
) -> None:
    paths = write_inputs(project)  # also a params.yaml stale against conf/: not checked
    with_comparison(paths)
    assert main(["report", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("### digits.stack v3: ✅ promote")
    assert "| curved |" not in out  # in conf/ but no metrics here
    assert not paths.model_card.exists()


def test_a_rerun_of_the_live_stack_says_no_change_not_promote(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)
    record = json.loads(paths.promotion.read_text())
    record["live_before"]["version"] = record["challenger"]["version"]  # v3 was live already
    record |= {"reason": "no change: v3 already holds 'live'", "difference": None}
    paths.promotion.write_text(json.dumps(record))
    text = markdown_summary(paths, taxonomy())
    assert text.startswith("### digits.stack v3: ➖ no change (already live)\n"), text
    assert "✅" not in text
