"""The pages speak of the project, not of the work that made it: history is in git and
CHANGELOG.md, and a figure names its date, commit and machine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO

# a figure or a note dated by a work period, which means nothing to a reader
WORK_PERIOD = re.compile(r"\bsessions? \d+|\b(?:last|this|previous|next) (?:session|round|wave)\b"
                         r"|\bwaves? \d+", re.I)
PAGES = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_no_page_dates_anything_by_a_work_period(page: Path) -> None:
    found = [m[0] for m in WORK_PERIOD.finditer(page.read_text())]
    assert not found, f"{page.relative_to(REPO)}: {found}: give a date and a commit instead"


@pytest.mark.parametrize("text", ["measured in sessions 3 and 4", "as this session found",
                                  "the last round's figure", "Wave 2 on the new layout"])
def test_a_work_period_is_recognised(text: str) -> None:
    assert WORK_PERIOD.search(text)
