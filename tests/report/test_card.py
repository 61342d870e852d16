from __future__ import annotations

import base64
import json
import re
import subprocess
from html import unescape
from pathlib import Path

import pytest

from taxonomist.config import Paths
from taxonomist.errors import DataError
from taxonomist.report import ModelCard, write_model_card
from tests.report import make_inputs
from tests.report.make_inputs import (
    CHALLENGER_RUN,
    MANIFEST_MD5,
    SPLITS_MD5,
    taxonomy,
    write_inputs,
    write_png,
)


def card_html(paths: Paths) -> str:
    return paths.model_card.read_text(encoding="utf-8")


def text_of(html: str) -> str:
    """The HTML without tags and with whitespace collapsed, to match phrases."""
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def section(html: str, name: str, inline: bool = False) -> str:
    """The text of one ``<section id=name>``; ``inline`` drops tags without a space."""
    match = re.search(rf'<section id="{name}".*?</section>', html, re.S)
    assert match is not None, f"no section {name}"
    if inline:
        return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", match.group())))
    return text_of(match.group())


@pytest.fixture(scope="module")
def old_card(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModelCard, str]:
    """The card of a promotion.json from before three outcomes; no PDF (see test_pdf)."""
    paths = write_inputs(tmp_path_factory.mktemp("old"))
    write_png(paths.node_plots("round") / "confusion.png", "blue")
    return write_model_card(paths, taxonomy(), pdf=None), card_html(paths)


@pytest.fixture(scope="module")
def new_card(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModelCard, str]:
    """The card of an ``investigate`` decision with the paired comparison and checks."""
    paths = write_inputs(tmp_path_factory.mktemp("new"), "investigate", new_shape=True)
    return write_model_card(paths, taxonomy(), pdf=None), card_html(paths)


def test_decision_and_its_numbers_come_first(old_card: tuple[ModelCard, str]) -> None:
    card, html = old_card
    text = text_of(html)
    assert card.decision == "promote"
    assert section(html, "decision").strip().startswith("PROMOTE Decision: promoted to live")
    assert re.search(r'<section id="decision"[^>]*>\s*<h2><span class="badge promote">', html)
    assert "leaf_accuracy improved by +0.0120" in text
    assert "challenger v3 0.9620" in text
    assert "live before, v2 0.9500" in text
    assert "difference +0.0120" in text
    assert "live now v3" in text
    order = ['id="decision"', 'id="comparison"', 'id="mistakes"', 'id="data"', 'id="lineage"']
    assert [html.index(o) for o in order] == sorted(html.index(o) for o in order)


def test_paired_difference_interval_and_p_value_up_front(new_card: tuple[ModelCard, str]) -> None:
    card, html = new_card
    decision = section(html, "decision")
    assert card.decision == "investigate"
    assert "INVESTIGATE Decision: needs investigation" in decision
    assert ("leaf_accuracy +0.0120 vs live v2 (95% CI +0.0040 to +0.0205), "
            "McNemar exact p = 0.0031, on 312 paired test images") in section(
        html, "decision", inline=True)
    assert "95% confidence interval (bootstrap over set_id) +0.0040 to +0.0205" in decision
    assert "McNemar exact p-value 0.0031" in decision
    assert "images only the challenger / only live got right 9 / 2" in decision
    assert 'class="badge investigate"' in html


def test_failing_checks_are_named_in_the_decision(new_card: tuple[ModelCard, str]) -> None:
    decision = section(new_card[1], "decision")
    assert "Checks that did not pass" in decision
    assert "class six 0.8000 0.9500 -0.1500 0.050 0.02 regression" in decision
    assert "node round 0.9000 0.9500 -0.0500 0.050 0.8 inconclusive" in decision
    assert "node digit" not in decision  # it passed


def test_challenger_and_live_side_by_side(new_card: tuple[ModelCard, str]) -> None:
    html = new_card[1]
    comparison = section(html, "comparison")
    assert "node v3 v2 difference margin Holm-adjusted p check" in comparison
    assert "digit 0.9900 0.9800 +0.0100 0.050 0.8 ok" in comparison
    assert "six 0.8000 0.9500 -0.1500 0.050 0.02 regression" in comparison
    for alt in ("per-node accuracy", "per-class recall"):
        chart = re.search(rf'src="data:image/png;base64,([^"]+)" alt="{alt}', html)
        assert chart is not None, alt
        assert base64.b64decode(chart.group(1)).startswith(b"\x89PNG")


def test_summary_line_carries_the_interval(new_card: tuple[ModelCard, str]) -> None:
    assert new_card[0].summary.startswith(
        "digits.stack v3 needs investigation: leaf_accuracy 0.9620 (+0.0120 vs v2, 95% CI "
        "+0.0040 to +0.0205, McNemar p=0.0031). regression beyond the margin in class 'six'"
    )


def test_old_investigation_still_renders_with_recall_drops(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path, decision="needs_investigation")
    card = write_model_card(paths, taxonomy(), pdf=None)
    html = card_html(paths)
    text = text_of(html)
    assert card.decision == "investigate"
    assert "INVESTIGATE Decision: needs investigation" in text
    assert "class recall fell more than 0.05: six (-0.200)" in text
    assert "Classes whose recall fell class recall drop six 0.2000" in text
    assert "live now v2" in text
    comparison = section(html, "comparison")
    assert "No per-node comparison" in comparison
    assert "six 0.9000 0.8000 +0.1000" in comparison  # recall from both stacks' metrics
    assert 'alt="per-class recall' in html


@pytest.mark.parametrize(("decision", "live_written"), [("promote", True), ("reject", False)])
def test_copies_per_version_and_live_only_on_promotion(
    tmp_path: Path, decision: str, live_written: bool
) -> None:
    paths = write_inputs(tmp_path, decision=decision, new_shape=True)
    card = write_model_card(paths, taxonomy(), pdf=None)
    if decision == "reject":
        assert "REJECT Decision: rejected" in section(card_html(paths), "decision")
    assert card.path == tmp_path / "reports" / "model_card.html"
    assert card.version_path == tmp_path / "reports" / "3" / "model_card.html"
    copy = card.version_path.read_text().replace('href="../data/', 'href="data/')
    assert copy == card.path.read_text()  # the same card, its one local link one level up
    assert (tmp_path / "reports" / "live").exists() is live_written
    assert (card.live_path is not None) is live_written
    assert all(p.is_file() for p in card.written)


def test_images_are_embedded_and_nothing_loads_from_elsewhere(
    old_card: tuple[ModelCard, str],
) -> None:
    card, html = old_card
    confusion = (card.path.parents[1] / "plots" / "round" / "confusion.png").read_bytes()
    assert "data:image/png;base64," + base64.b64encode(confusion).decode() in html
    assert re.search(r'src="(?!data:)', html) is None
    assert re.findall(r'href="(?!data:)([^"]+)"', html) == ["data/docs/index.html"]  # a link
    assert "<script" not in html and "<link" not in html and "<style>" in html
    assert "@font-face" not in html  # the print fonts are for the PDF only


def test_per_node_and_stack_metrics(old_card: tuple[ModelCard, str]) -> None:
    html = old_card[1]
    text = text_of(html)
    for node in ("digit", "round", "straight"):
        assert f'id="node-{node}"' in html
    assert "accuracy 0.9375 · macro F1 0.8765 · ECE 0.0312 · 40 test images" in text
    assert "six 0.9200 0.8200 0.8600 11" in text  # precision, recall, F1, support
    assert "leaf accuracy 0.9620" in text
    assert "accuracy at depth 1 0.9900 accuracy at depth 2 0.9620" in text
    assert "mistake severity 1.7500 distance@1 0.0665" in text
    assert "hierarchical precision · recall · F1 0.9810 · 0.9750 · 0.9780" in text
    assert "coverage 0.9875 precision where walks stopped 0.9700 test images 80" in text


def test_data_summary_and_validation(old_card: tuple[ModelCard, str]) -> None:
    text = text_of(old_card[1])
    assert "7 images in the manifest; 3 rejected at ingest" in text
    assert "label images round 1 zero 2 six 1 one 1 four 2" in text  # taxonomy order
    assert "source images sample 5 scanner 2" in text
    assert "duplicate 2 in/a.png , in/b.png" in text
    assert "unknown label 1 in/c.png" in text
    assert "Passed: 0 error(s), 1 warning(s) on 7 images" in text
    assert ("Corrections: 2 test label(s) changed since the test split was frozen; 1 "
            "image(s) excluded from the splits") in text
    assert "class 'four' has 12 images, fewer than the recommended 1000" in text


def test_every_copy_of_the_card_links_the_data_docs(old_card: tuple[ModelCard, str]) -> None:
    card = old_card[0]
    for page in card.html_paths:
        links = re.findall(r'href="([^"]+)">great-expectations Data Docs', page.read_text())
        assert len(links) == 1, page
        assert (page.parent / links[0]).resolve().read_text() == "<html>Data Docs</html>"


def test_lineage(old_card: tuple[ModelCard, str]) -> None:
    html = old_card[1]
    text = text_of(html)
    assert "git commit unknown" in text  # tmp_path is not a git repository
    assert f"data/manifest.parquet (DVC md5) {MANIFEST_MD5}" in text
    assert f"data/splits.parquet (DVC md5) {SPLITS_MD5}" in text
    assert f"registered model digits.stack version 3 MLflow run {CHALLENGER_RUN}" in text
    assert "tracking URI sqlite:///mlflow/mlflow.db" in text
    shown = r"<pre># params.yaml\nseed: 42\nnotify:.*# params/digit.json\n{&#34;classes"
    assert re.search(r"<details>.*params\.yaml.*" + shown, html, re.S)


def test_git_commit_of_the_project(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c",
           "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "params.yaml"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "x"], cwd=tmp_path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, check=True,
                          capture_output=True, text=True).stdout.strip()
    write_model_card(paths, taxonomy(), pdf=None)
    assert f"git commit {head}" in text_of(card_html(paths))


@pytest.mark.parametrize("new_shape", [False, True])
def test_first_promotion_has_no_live_side(tmp_path: Path, new_shape: bool) -> None:
    paths = write_inputs(tmp_path, "promote", live=False, new_shape=new_shape)
    card = write_model_card(paths, taxonomy(), pdf=None)
    html = card_html(paths)
    assert "live before nothing was live" in section(html, "decision")
    assert "McNemar" not in section(html, "decision")
    assert "nothing was live to compare with" in section(html, "comparison")
    assert "class v3 zero 0.9500 six 0.9000" in section(html, "comparison")
    assert "wrong; live got" not in section(html, "mistakes")
    assert card.summary.startswith("digits.stack v3 promoted to live: leaf_accuracy 0.9620")


def test_optional_inputs_may_be_missing(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)
    for optional in (paths.manifest, paths.rejects, paths.validation, paths.params,
                     tmp_path / "dvc.lock", paths.node_plots("round") / "confusion.png",
                     paths.reports / "outcomes.parquet"):
        optional.unlink()
    write_model_card(paths, taxonomy(), pdf=None)
    text = text_of(card_html(paths))
    assert "No manifest found" in text
    assert "Rejected at ingest None." in text
    assert "Validation Not run" in text
    assert "No confusion matrix (plots/round/confusion.png)" in text
    assert "data/manifest.parquet (DVC md5) not in dvc.lock" in text
    assert "params.yaml not found" in text
    assert "No per-image outcomes (reports/outcomes.parquet)" in text


@pytest.mark.parametrize(("missing", "message"), [
    ("reports/promotion.json", r"promotion\.json not found.*dvc repro promote"),
    ("metrics/stack.json", r"stack\.json not found.*dvc repro stack"),
    ("metrics/round.json", r"round\.json not found.*dvc repro evaluate@round"),
])
def test_required_inputs_say_which_stage_to_run(
    tmp_path: Path, missing: str, message: str
) -> None:
    paths = write_inputs(tmp_path)
    (tmp_path / missing).unlink()
    with pytest.raises(DataError, match=re.compile(message, re.S)):
        write_model_card(paths, taxonomy(), pdf=None)


def test_text_from_inputs_is_escaped(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)
    record = make_inputs.promotion(reason="<script>alert(1)</script> & more")
    paths.promotion.write_text(json.dumps(record))
    write_model_card(paths, taxonomy(), pdf=None)
    html = card_html(paths)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html


def test_model_card_is_a_plain_record(old_card: tuple[ModelCard, str]) -> None:
    card = old_card[0]
    assert isinstance(card, ModelCard)
    assert (card.model, card.version) == ("digits.stack", "3")
    assert (card.pdf_path, card.pdf_engine, card.pdf_warning) == (None, None, None)
    assert card.summary == (
        "digits.stack v3 promoted to live: leaf_accuracy 0.9620 (+0.0120 vs v2). "
        "leaf_accuracy improved by +0.0120"
    )


def test_stack_numbers_beyond_the_dvc_headline_come_from_the_promotion_record(
    tmp_path: Path,
) -> None:
    """metrics/stack.json holds only what `dvc metrics show` prints; the card still shows
    every number, as the promote stage measured it on the challenger."""
    from taxonomist.report.card import build_context

    paths = write_inputs(tmp_path)
    paths.stack_metrics.write_text(json.dumps({"leaf_accuracy": 0.962, "hierarchical_f1": 0.978,
                                               "distance_at_1": 0.0665, "coverage": 0.9875}))
    stack = build_context(paths, make_inputs.taxonomy()).stack
    assert (stack.hierarchical_precision, stack.mistake_severity, stack.n_test) == (0.981, 1.75, 80)
    assert stack.depth_accuracy == [(1, 0.99), (2, 0.962)]
