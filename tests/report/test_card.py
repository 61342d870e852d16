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


def test_decision_and_its_numbers_come_first(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)
    card = write_model_card(paths, taxonomy())
    html = card_html(paths)
    text = text_of(html)
    assert card.decision == "promote"
    assert "Decision: promoted to live" in text
    assert "leaf_accuracy improved by +0.0120" in text
    assert "challenger v3 0.9620" in text
    assert "live before, v2 0.9500" in text
    assert "difference +0.0120" in text
    assert "live now v3" in text
    assert html.index('id="decision"') < html.index('id="data"') < html.index('id="lineage"')


def test_investigation_shows_reason_and_recall_drops(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path, decision="needs_investigation")
    card = write_model_card(paths, taxonomy())
    text = text_of(card_html(paths))
    assert card.decision == "needs_investigation"
    assert "Decision: needs investigation" in text
    assert "class recall fell more than 0.05: six (-0.200)" in text
    assert "Classes whose recall fell class recall drop six 0.2000" in text
    assert "live now v2" in text


@pytest.mark.parametrize(("decision", "live_written"), [
    ("promote", True),
    ("needs_investigation", False),
])
def test_copies_per_version_and_live_only_on_promotion(
    tmp_path: Path, decision: str, live_written: bool
) -> None:
    paths = write_inputs(tmp_path, decision=decision)
    card = write_model_card(paths, taxonomy())
    assert card.path == tmp_path / "reports" / "model_card.html"
    assert card.version_path == tmp_path / "reports" / "3" / "model_card.html"
    assert card.version_path.read_text() == card.path.read_text()
    assert (tmp_path / "reports" / "live").exists() is live_written
    assert (card.live_path is not None) is live_written
    assert all(p.is_file() for p in card.written)


def test_images_are_embedded_and_nothing_loads_from_elsewhere(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)
    confusion = write_png(paths.node_plots("round") / "confusion.png", "blue")
    write_model_card(paths, taxonomy())
    html = card_html(paths)
    assert "data:image/png;base64," + base64.b64encode(confusion).decode() in html
    chart = re.search(r'src="(data:image/png;base64,[^"]+)" alt="per-class recall', html)
    assert chart is not None
    assert base64.b64decode(chart.group(1).split(",", 1)[1]).startswith(b"\x89PNG")
    assert re.search(r'(src|href)="(?!data:)', html) is None
    assert "<script" not in html and "<link" not in html and "<style>" in html


def test_per_node_and_stack_metrics(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)
    write_model_card(paths, taxonomy())
    text = text_of(card_html(paths))
    for node in ("digit", "round", "straight"):
        assert f'id="node-{node}"' in card_html(paths)
    assert "accuracy 0.9375 · macro F1 0.8765 · 40 test images" in text
    assert "six 0.9200 0.8200 0.8600 11" in text  # precision, recall, F1, support
    assert "leaf accuracy 0.9620" in text
    assert "accuracy at depth 1 0.9900 accuracy at depth 2 0.9620" in text
    assert "mistake severity 1.7500" in text


def test_data_summary_and_validation(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)
    write_model_card(paths, taxonomy())
    text = text_of(card_html(paths))
    assert "7 images in the manifest; 3 rejected at ingest" in text
    assert "label images round 1 zero 2 six 1 one 1 four 2" in text  # taxonomy order
    assert "source images sample 5 scanner 2" in text
    assert "duplicate 2 in/a.png , in/b.png" in text
    assert "unknown label 1 in/c.png" in text
    assert "Passed: 0 error(s), 1 warning(s) on 7 images" in text
    assert "class 'four' has 12 images, fewer than the recommended 1000" in text


def test_lineage(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)
    write_model_card(paths, taxonomy())
    html = card_html(paths)
    text = text_of(html)
    assert "git commit unknown" in text  # tmp_path is not a git repository
    assert f"data/manifest.parquet (DVC md5) {MANIFEST_MD5}" in text
    assert f"data/splits.parquet (DVC md5) {SPLITS_MD5}" in text
    assert f"registered model digits.stack version 3 MLflow run {CHALLENGER_RUN}" in text
    assert "tracking URI sqlite:///mlflow/mlflow.db" in text
    assert re.search(r"<details>.*params\.yaml.*<pre>seed: 42\nnotify:", html, re.S)


def test_git_commit_of_the_project(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c",
           "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "params.yaml"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "x"], cwd=tmp_path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, check=True,
                          capture_output=True, text=True).stdout.strip()
    write_model_card(paths, taxonomy())
    assert f"git commit {head}" in text_of(card_html(paths))


def test_first_promotion_has_no_live_side(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path, live=False)
    card = write_model_card(paths, taxonomy())
    text = text_of(card_html(paths))
    assert "live before nothing was live" in text
    assert card.summary.startswith("digits.stack v3 promoted to live: leaf_accuracy 0.9620")


def test_optional_inputs_may_be_missing(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)
    for optional in (paths.manifest, paths.rejects, paths.validation, paths.params,
                     tmp_path / "dvc.lock", paths.node_plots("round") / "confusion.png"):
        optional.unlink()
    write_model_card(paths, taxonomy())
    text = text_of(card_html(paths))
    assert "No manifest found" in text
    assert "Rejected at ingest None." in text
    assert "Validation Not run" in text
    assert "No confusion matrix (plots/round/confusion.png)" in text
    assert "data/manifest.parquet (DVC md5) not in dvc.lock" in text
    assert "params.yaml not found" in text


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
        write_model_card(paths, taxonomy())


def test_text_from_inputs_is_escaped(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)
    record = make_inputs.promotion(reason="<script>alert(1)</script> & more")
    paths.promotion.write_text(json.dumps(record))
    write_model_card(paths, taxonomy())
    html = card_html(paths)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html


def test_model_card_is_a_plain_record(tmp_path: Path) -> None:
    card = write_model_card(write_inputs(tmp_path), taxonomy())
    assert isinstance(card, ModelCard)
    assert (card.model, card.version) == ("digits.stack", "3")
    assert card.summary == (
        "digits.stack v3 promoted to live: leaf_accuracy 0.9620 (+0.0120 vs v2). "
        "leaf_accuracy improved by +0.0120"
    )
