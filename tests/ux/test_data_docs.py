"""The Data Docs offline, in a browser: an index that lists every suite, and a suite that
only warns reads as passed, as `taxonomist validate` says, while one with an error fails."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from taxonomist.checks import ValidationReport, validate
from tests.checks.shapes import CLASSIFIERS, TAXONOMY, make_dataset


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> tuple[ValidationReport, Path]:
    """Triangles from one source only (a warning); round needs more images (an error)."""
    manifest, splits = make_dataset()
    manifest.loc[manifest["label"] == "triangle", "source"] = "c"
    classifiers = {**CLASSIFIERS, "round": dataclasses.replace(CLASSIFIERS["round"],
                                                               min_images=100)}
    out = tmp_path_factory.mktemp("docs") / "reports" / "data" / "validation.json"
    report = validate(manifest, splits, TAXONOMY, classifiers, out)
    return report, out.parent / report.data_docs


def _row(page: Page, suite: str):
    return page.locator("tr", has=page.get_by_role("cell", name=suite, exact=True))


def test_the_index_lists_every_suite_with_its_status_offline(docs, page: Page):
    report, index = docs
    page.goto(index.as_uri())
    for suite in report.statistics:
        expect(_row(page, suite)).to_have_count(1)
    expect(_row(page, "class_counts")).to_contain_text("failed: 1 error(s)")
    expect(_row(page, "selection_bias")).to_contain_text("passed, 1 warning(s)")


@pytest.mark.parametrize("suite, status", [("selection_bias", "Succeeded"),
                                           ("class_counts", "Failed")])
def test_a_suite_reads_failed_only_when_it_has_an_error(docs, page: Page, suite, status):
    page.goto(docs[1].as_uri())
    page.get_by_role("link", name=f"{suite} result").click()
    header = page.locator("text=Status:").locator("..")
    expect(header).to_contain_text(status)
    expect(page.locator("body")).to_contain_text(suite)
