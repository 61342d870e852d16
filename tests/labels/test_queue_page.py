"""The queue page in a real headless Chromium, opened as a file (offline): it renders, its
rows are in rank order with the most disputed image first, and every thumbnail loads."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from taxonomist.cli import main
from tests.labels.conftest import DigitsProject, disputed


def test_the_queue_page_renders_ranked_with_every_thumbnail(live_digits: DigitsProject,
                                                            page: Page) -> None:
    case = disputed(live_digits)
    assert main(["--config-dir", str(live_digits.conf), "label", "queue"]) == 0
    page.goto(live_digits.paths.label_queue.resolve().as_uri())
    expect(page.get_by_role("heading", level=1)).to_have_text("Label queue: digit")
    rows = page.locator("#queue tbody tr")
    expect(rows).to_have_count(5)
    scores = [float(s) for s in page.locator("#queue td.score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[1]
    assert rows.first.get_attribute("data-id") == case.ids[0]
    page.wait_for_load_state("load")  # images included
    loaded = page.eval_on_selector_all(
        "img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
    assert loaded == [True] * 5
    expect(page.locator("pre")).to_contain_text(
        "taxonomist label apply reports/labels/decisions.csv")
