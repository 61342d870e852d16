"""A verb prints its own lines, not the notices of the libraries underneath; with
TAXONOMIST_VERBOSE=1 (what ``taxonomist -v`` sets) every one of them shows again.

Each case runs in a fresh interpreter, as a stage of `dvc repro` does, with the libraries
imported after :func:`taxonomist.quiet.setup` (a stage's lazy imports) or before it (a warm
worker of ``taxonomist repro``, which preloads them)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from taxonomist.quiet import QUIET_ENV, VERBOSE_ENV

IMPORTS = "import mlflow, pytorch_lightning as pl"
NOTICES = textwrap.dedent("""
    import logging, warnings
    from pytorch_lightning.utilities._pytree import _tree_flatten
    pl.seed_everything(1)                       # "Seed set to 1"
    pl.Trainer(logger=False, accelerator="cpu", enable_progress_bar=False,
               enable_model_summary=False)      # "GPU available: ...", the litlogger tip
    _tree_flatten(1)                            # torch's LeafSpec deprecation
    logging.getLogger("mlflow.store.db.utils").info("Creating initial MLflow database tables")
    warnings.warn_explicit("An input example was not provided when logging the model.",
                           UserWarning, "pyfunc.py", 1, module="mlflow.pyfunc")
    print("ours: done")
""")
SHOWN_ONLY_IF_VERBOSE = ("Seed set to 1", "GPU available", "Tip:", "LeafSpec",
                         "Creating initial MLflow database tables", "An input example")


def run_notices(imports_first: bool, verbose: bool) -> str:
    setup = "from taxonomist import quiet; quiet.setup()"
    script = "\n".join([IMPORTS, setup] if imports_first else [setup, IMPORTS]) + NOTICES
    # as a fresh shell gives it: not what an in-process quiet.setup() of another test set
    env = {k: v for k, v in os.environ.items()
           if k not in (VERBOSE_ENV, "PYTHONWARNINGS", *QUIET_ENV)}
    if verbose:
        env[VERBOSE_ENV] = "1"
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


@pytest.mark.parametrize("imports_first", [False, True], ids=["stage", "warm worker"])
def test_the_libraries_notices_are_silenced(imports_first: bool) -> None:
    output = run_notices(imports_first, verbose=False)
    assert "ours: done" in output
    assert [n for n in SHOWN_ONLY_IF_VERBOSE if n in output] == [], output


def test_verbose_shows_every_notice() -> None:
    output = run_notices(imports_first=False, verbose=True)
    assert [n for n in SHOWN_ONLY_IF_VERBOSE if n not in output] == [], output


def test_the_verbose_flag_reaches_the_processes_a_verb_starts(monkeypatch) -> None:
    from taxonomist import quiet

    monkeypatch.setenv(VERBOSE_ENV, "0")  # restored afterwards, whatever setup sets
    assert not quiet.is_verbose()
    quiet.setup(verbose=True)
    assert os.environ[VERBOSE_ENV] == "1" and quiet.is_verbose()
