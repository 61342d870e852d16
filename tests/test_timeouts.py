"""A hung server cannot hang CI: tests that start one are bounded, and fail alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

CONFTEST = '''
from tests import conftest
from tests.conftest import pytest_collection_modifyitems  # noqa: F401 (the hook under test)

conftest.SERVER_TIMEOUT_S["mailbox"] = 2  # the real bound, shortened for the test
'''
HUNG = '''
import time

import pytest


@pytest.fixture
def mailbox():
    time.sleep(30)  # an SMTP server that never answers


def test_sends_mail(mailbox):
    pass


def test_after_it():
    pass
'''


def test_a_test_whose_server_hangs_fails_on_its_bound_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_hung.py").write_text(HUNG)
    done = subprocess.run(  # with this project's pytest settings (pyproject.toml)
        [sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml"), "--rootdir",
         str(tmp_path), "-p", "no:cacheprovider", "-q", str(tmp_path / "test_hung.py")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert "Timeout (>2.0s)" in done.stdout, done.stdout[-2000:]
    assert "1 passed, 1 error" in done.stdout, done.stdout[-2000:]  # only the hung one


def test_every_other_test_has_a_default_bound_above_the_slowest(
    pytestconfig: pytest.Config,
) -> None:
    """The default bounds everything else, well above the slowest test measured (407 s,
    the real `dvc repro`), and below what would let a hang eat a CI run's hour."""
    assert 2 * 407 <= float(pytestconfig.getini("timeout") or 0) <= 3600
