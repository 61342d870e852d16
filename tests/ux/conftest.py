"""A real headless Chromium (Debian's ``chromium``, driven by Playwright) for the tests
whose point is what a person sees: the MLflow UI, the Data Docs, the model card.

Pages get no network beyond 127.0.0.1, as on an offline machine: whatever a page would
load from a CDN fails, so a test sees what a user without a network sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

# Debian's `chromium` (.ci/run installs it), or the Chrome that GitHub's Ubuntu runners
# carry, where `chromium` is only a snap stub
BROWSERS = (Path("/usr/bin/chromium"), Path("/usr/bin/google-chrome"))
CHROMIUM = next((path for path in BROWSERS if path.is_file()), BROWSERS[0])
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]
LOCAL = ("file://", "http://127.0.0.1", "data:")
WAIT_MS = 30_000  # the MLflow UI loads its bundle and data on a busy 2-core machine

expect.set_options(timeout=WAIT_MS)


@contextmanager
def launched_chromium() -> Iterator[Browser]:
    """Headless Chromium under Playwright's sync API, which holds an event loop in this
    thread while open: outside tests/ux (which runs last) close it before other tests'
    asyncio.run() needs the thread (a module-scoped fixture, not a session one)."""
    assert CHROMIUM.is_file(), f"no {CHROMIUM}: `apt-get install chromium` (see .ci/run)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page that reaches 127.0.0.1 and local files only."""
    context = browser.new_context()
    context.route("**/*", _local_only)
    tab = context.new_page()
    tab.set_default_timeout(WAIT_MS)
    yield tab
    context.close()


def _local_only(route: Route) -> None:
    if route.request.url.startswith(LOCAL):
        route.continue_()
    else:
        route.abort()
