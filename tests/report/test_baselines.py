"""The card against the baselines: beats, ties or loses by a paired test, in the decision
box, with what to try after a loss."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from taxonomist.config import Paths
from taxonomist.contracts.baselines import (
    FLAT,
    PREDICTIONS_DIR,
    SVC_PIXELS,
    BaselineScore,
    predictions_file,
    predictions_table,
    write_predictions,
)
from taxonomist.errors import DataError
from taxonomist.report import write_model_card
from taxonomist.report.baselines import (
    AgainstBaseline,
    Standing,
    compare_with_baselines,
    pair_with_stack,
)
from tests.report.make_inputs import image_id, taxonomy, write_inputs
from tests.report.test_pdf import pdf_text

LEAVES = taxonomy().leaves
N_IMAGES = 40


def outcomes(stack_correct: list[bool]) -> pd.DataFrame:
    """reports/outcomes.parquet's columns for the stack, every image labelled 'zero' (a
    miss: the stack said 'six'), two views per set, and one image labelled only 'round',
    which no leaf accuracy counts and no baseline answers."""
    n = len(stack_correct)
    return pd.DataFrame({
        "id": [image_id(i) for i in range(n + 1)],
        "set_id": [f"s{i // 2}" for i in range(n + 1)],
        "label": ["zero"] * n + ["round"],
        "challenger_predicted": ["zero" if ok else "six" for ok in stack_correct] + ["round"],
        "challenger_correct": [*stack_correct, True],
        "challenger_distance": [0 if ok else 2 for ok in stack_correct] + [0],
        "challenger_path": ["round/zero" if ok else "round/six" for ok in stack_correct]
        + ["round"],
    })


def answers(correct: list[bool]) -> pd.DataFrame:
    """A baseline's answers on the leaf-labelled images of :func:`outcomes`."""
    ids = [image_id(i) for i in range(len(correct))]
    return predictions_table(ids, ["zero"] * len(correct),
                             ["zero" if ok else "six" for ok in correct])


def against(stack_misses: int, baseline_misses: int, n: int = N_IMAGES) -> AgainstBaseline:
    """The stack wrong on its first ``stack_misses`` images, the baseline on its last."""
    stack = [i >= stack_misses for i in range(n)]
    baseline = [i < n - baseline_misses for i in range(n)]
    return pair_with_stack(FLAT, outcomes(stack), answers(baseline), LEAVES, "flat.csv")


@pytest.mark.parametrize(("stack_misses", "baseline_misses", "standing"), [
    (12, 0, Standing.LOSES),  # 12 images only the baseline got right: McNemar p < 0.001
    (0, 12, Standing.BEATS),
    (1, 0, Standing.TIES),  # one image apart: a tie, however the raw rates compare
    (0, 1, Standing.TIES),
    (3, 3, Standing.TIES),  # the same rate on other images
])
def test_the_standing_comes_from_the_paired_test_not_the_raw_rates(
    stack_misses: int, baseline_misses: int, standing: Standing
) -> None:
    a = against(stack_misses, baseline_misses)
    assert a.standing == standing
    assert (a.stack_accuracy, a.baseline_accuracy) == (
        1 - stack_misses / N_IMAGES, 1 - baseline_misses / N_IMAGES)
    assert a.comparison.n_images == N_IMAGES  # the image labelled 'round' is left out
    assert a.comparison.resampled == "set_id"


def test_a_loss_brings_the_advice_and_a_tie_does_not() -> None:
    scores = [BaselineScore(FLAT, 1.0, 1.0)]
    lost = compare_with_baselines(0.7, scores, [against(12, 0)], "digit")
    assert lost.loses_to == [FLAT]
    assert "loses to the flat baseline" in lost.verdict
    assert "conf/classifiers/digit.yaml" in lost.advice
    tied = compare_with_baselines(0.975, scores, [against(1, 0)], "digit")
    assert (tied.loses_to, tied.advice) == ([], None)
    assert "not shown better" in tied.verdict


def test_answers_on_other_images_than_the_stacks_are_refused() -> None:
    stack = outcomes([True] * 4)
    other = predictions_table([image_id(9), *map(image_id, range(1, 4))], ["zero"] * 4,
                              ["zero"] * 4)
    with pytest.raises(DataError, match=r"flat\.csv: .* 1 of the stack's images unanswered, "
                                         r"1 answers for .*dvc repro baseline"):
        pair_with_stack(FLAT, stack, other, LEAVES, "plots/_baselines/flat.csv")


def write_paired_inputs(root: Path, stack: list[bool], flat: list[bool], svc: list[bool]
                        ) -> Paths:
    """The card's inputs, with the stack's outcomes and both baselines' answers."""
    paths = write_inputs(root, "promote", new_shape=True)
    outcomes(stack).to_parquet(paths.reports / "outcomes.parquet", index=False)
    folder = paths.node_plots(PREDICTIONS_DIR)
    for name, correct in ((FLAT, flat), (SVC_PIXELS, svc)):
        rate = sum(correct) / len(correct)
        BaselineScore(name, rate, rate).write(paths.stack_metrics.parent)
        write_predictions(predictions_file(folder, name), answers(correct))
    return paths


def html_of(paths: Paths) -> str:
    return write_model_card(paths, taxonomy(), pdf=None).path.read_text()


def decision_box(html: str) -> str:
    start = html.index('id="decision"')
    return html[start:html.index("</section>", start)]


def test_a_significant_loss_is_said_in_the_decision_box_with_what_to_do(tmp_path: Path
                                                                        ) -> None:
    stack = [i >= 12 for i in range(N_IMAGES)]
    flat = [True] * N_IMAGES
    svc = [i >= 11 for i in range(N_IMAGES)]  # right on one image more than the stack
    paths = write_paired_inputs(tmp_path, stack, flat, svc)
    box = decision_box(html_of(paths))
    assert "The stack <b>loses to</b> the flat network: stack 0.7000 vs 1.0000" in box
    assert "difference -0.3000 (95% CI" in box
    assert "The stack <b>ties with</b> the SVC on grey pixels: stack 0.7000 vs 0.7250" in box
    assert "targets: leaves in conf/classifiers/digit.yaml" in box
    assert "ancestor_weight" in box and "Against the baselines" in box


def test_a_tie_in_the_decision_box_gives_no_advice(tmp_path: Path) -> None:
    stack = [i != 0 for i in range(N_IMAGES)]
    paths = write_paired_inputs(tmp_path, stack, [True] * N_IMAGES, stack)
    box = decision_box(html_of(paths))
    assert "The stack <b>ties with</b> the flat network: stack 0.9750 vs 1.0000" in box
    assert "targets: leaves" not in box


def test_without_the_answers_the_card_says_which_file_to_make(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path, "promote", new_shape=True)
    BaselineScore(FLAT, 0.9412, 0.9402).write(paths.stack_metrics.parent)
    html = html_of(paths)
    box = decision_box(html)
    assert "is not tested against</b> the flat network: stack 0.9620 vs 0.9412" in box
    assert "plots/_baselines/flat.csv is missing (run `dvc repro baseline`)" in box
    assert "not tested image by image against the flat baseline" in html


def test_the_card_shows_the_stack_next_to_both_baselines(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)  # the stack's leaf accuracy there: 0.962
    for name, accuracy in ((FLAT, 0.9412), (SVC_PIXELS, 0.9633)):
        BaselineScore(name, accuracy, accuracy - 0.001).write(paths.stack_metrics.parent)
    html = html_of(paths)
    start = html.index('id="baselines"')
    table = html[start:html.index("</section>", start)]
    for number in ("0.9620", "0.9412", "0.9402", "0.9633", "0.9623"):
        assert number in table


def test_the_latex_card_says_the_loss_and_the_advice_in_the_decision(tmp_path: Path) -> None:
    stack = [i >= 12 for i in range(N_IMAGES)]
    paths = write_paired_inputs(tmp_path, stack, [True] * N_IMAGES, stack)
    card = write_model_card(paths, taxonomy(), pdf="pdflatex")
    assert (card.pdf_engine, card.pdf_warning) == ("pdflatex", None)
    text = pdf_text(card.pdf_path)
    decision = text[:text.index("Challenger vs live, node by node")]
    assert "The stack loses to the flat network: stack 0.7000 vs 1.0000" in decision
    assert "The stack ties with the SVC on grey pixels: stack 0.7000 vs 0.7000" in decision
    assert "targets: leaves in conf/classifiers/digit.yaml" in decision
