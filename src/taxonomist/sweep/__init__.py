"""``taxonomist sweep NODE key=a,b ... -m``: Hydra multiruns over one node's definition.

Each trial trains the node on the cached data exactly as ``train@NODE`` would, logs a
child run under one MLflow parent run, and publishes nothing; the trials are ranked by
their best validation loss or accuracy, and ``--apply`` writes the winner's values into
``conf/classifiers/NODE.yaml``.
"""

from taxonomist.sweep.app import SweepResult, run_sweep
from taxonomist.sweep.apply import Change, apply_values
from taxonomist.sweep.results import TrialRow, format_table
from taxonomist.sweep.trial import Objective

__all__ = [
    "Change",
    "Objective",
    "SweepResult",
    "TrialRow",
    "apply_values",
    "format_table",
    "run_sweep",
]
