"""Only what a person can act on: the notices of the libraries underneath, silenced at source.

``taxonomist <verb>`` prints its progress, its results and the warnings a person can act
on. The libraries it drives add notices nobody running the pipeline can act on: Lightning's
"GPU available" lines, its litlogger tip and seed line, a deprecation inside Lightning,
Lightning's note that our module transfers batches itself, MLflow's INFO lines, its
artifact download bar and its advice to log an input example. Each is silenced where it
starts: an environment default the library reads, the level of the one logger that says
it, or a ``warnings`` filter for that one message from that one library; never by ignoring
warnings wholesale, so a new warning still shows.

``taxonomist -v`` (or ``TAXONOMIST_VERBOSE=1``) leaves everything as the libraries print
it; the flag sets the variable, so the stages `dvc repro` starts and the workers of
``taxonomist repro`` show everything too.
"""

from __future__ import annotations

import logging
import os
import warnings

VERBOSE_ENV = "TAXONOMIST_VERBOSE"

# Offline-friendly defaults for the tools we drive, verbose or not; the environment wins.
TOOL_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "DVC_NO_ANALYTICS": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}
# Read by MLflow when it is imported (it sets its logger's level from the first).
QUIET_ENV = {
    "MLFLOW_LOGGING_LEVEL": "WARNING",  # "Creating initial MLflow database tables..."
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",  # "Downloading artifacts: 100%|..."
}
# Loggers whose INFO lines are notices. Lightning resets the level of its top logger when
# it is imported, so these are the ones below it that say the notices, whose levels stay.
QUIET_LOGGERS = (
    "pytorch_lightning.utilities.rank_zero",  # "GPU available", the litlogger tip, ...
    "lightning_fabric.utilities.rank_zero",  # the same, when Fabric's module says it
    "lightning_fabric.utilities.seed",  # "Seed set to 42"
    "pytorch_lightning.accelerators.cuda",  # "LOCAL_RANK: 0 - CUDA_VISIBLE_DEVICES: [0]"
    "mlflow",  # its INFO lines, when MLflow was imported before this ran
)
# (message, category, module): warnings about the libraries' own code, or about what we
# chose on purpose. ``message`` and ``module`` are regular expressions matched at the start.
NOTICES = (
    # torch deprecated LeafSpec; Lightning's own _pytree still builds one
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning, r"pytorch_lightning\."),
    # kornia augments whole batches on the device in NodeClassifier.on_after_batch_transfer,
    # by design (DESIGN.md), beside a LightningDataModule
    (r"You have overridden `on_after_batch_transfer` in `LightningModule`", UserWarning,
     r"pytorch_lightning\."),
    # the stack's pyfunc has a signature; an input example would only be run at logging time
    (r".*An input example was not provided", UserWarning, r"mlflow\."),
)


def is_verbose() -> bool:
    """Whether the libraries' notices are to be shown (``TAXONOMIST_VERBOSE`` set, not 0)."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def setup(verbose: bool = False) -> None:
    """Set the tools' defaults and, unless verbose, silence their notices; call it first.

    Idempotent: a warm worker calls it once per stage it runs.

    Args:
        verbose: show everything (``taxonomist -v``); recorded in ``TAXONOMIST_VERBOSE``
            for the processes this one starts.
    """
    for key, value in TOOL_ENV.items():
        os.environ.setdefault(key, value)
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
    if is_verbose():
        return
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for message, category, module in NOTICES:
        warnings.filterwarnings("ignore", message, category, module)
