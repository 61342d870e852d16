"""What `make run` leaves a newcomer with: what to look at next, what to commit, and no
stray files for git to list."""

from __future__ import annotations

import subprocess

from taxonomist.tracking.names import UI_MODEL_TRAINING
from tests.conftest import REPO


def _make(*args: str) -> str:
    done = subprocess.run(["make", "--no-print-directory", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def test_make_run_ends_by_saying_what_to_look_at_and_what_to_commit():
    planned = _make("-n", "run")  # prints the commands, runs none (but the recursive make)
    after = planned[planned.index("dvc repro"):]
    for shown in ("make ui", "reports/model_card.html", "reports/data/docs/index.html",
                  "dvc metrics show", "git add dvc.lock"):
        assert shown in after, shown


def test_make_ui_names_the_page_that_opens_on_the_model_registry():
    assert f"http://127.0.0.1:5000/#/models?{UI_MODEL_TRAINING}" in _make("-n", "ui")


def test_dvc_plots_output_is_ignored_by_git():
    done = subprocess.run(["git", "check-ignore", "-q", "dvc_plots/index.html"], cwd=REPO)
    assert done.returncode == 0, "add /dvc_plots/ to .gitignore"
