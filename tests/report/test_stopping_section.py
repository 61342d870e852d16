"""The card's "Calibrated stopping" section, from the stack stage's tables."""

from __future__ import annotations

import json
import re
from pathlib import Path

from taxonomist.report import write_model_card
from taxonomist.stack.build import write_stopping_views
from tests.report.make_inputs import taxonomy, write_inputs
from tests.report.test_card import card_html, section
from tests.stack.made_up import stopping_report


def card_with_target(tmp_path: Path, target: float | None) -> str:
    paths = write_inputs(tmp_path, "investigate", new_shape=True)
    record = json.loads(paths.promotion.read_text())
    if target is not None:  # as evaluate_stack records a root's target
        record["challenger"]["metrics"]["target_precision"] = target
    paths.promotion.write_text(json.dumps(record))
    write_stopping_views(paths, stopping_report(taxonomy().inner_nodes))
    write_model_card(paths, taxonomy(), pdf=None)
    return card_html(paths)


def test_measured_precision_next_to_the_target_with_the_curves(tmp_path: Path) -> None:
    html = card_with_target(tmp_path, 0.99)
    text = section(html, "stopping")
    # precision_at_stop of the challenger (make_inputs: 0.97) against its target
    assert "precision where walks stopped on test is 0.9700 against a target of 0.9900" in text
    assert "straight 1.5000 0.0300 0.0100 0.5000 hand-set 0.9000 0.9000 10 1.0000" in text
    assert "bayes_risk none 0.9000 0.1800 1.8000" in text
    figure = html[html.index('<section id="stopping"'):]
    assert 'src="data:image/png;base64,' in figure.split("</section>")[0]


def test_without_a_target_or_tables(tmp_path: Path) -> None:
    text = section(card_with_target(tmp_path / "a", None), "stopping")
    assert re.search(r"on test is 0\.9700\s*, with coverage", text) and "target of" not in text
    paths = write_inputs(tmp_path / "b", "investigate", new_shape=True)
    write_model_card(paths, taxonomy(), pdf=None)
    assert "No calibration table (plots/_stack/calibration.csv)" in section(
        card_html(paths), "stopping")
