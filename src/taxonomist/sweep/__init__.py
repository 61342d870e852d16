"""``taxonomist sweep NODE key=a,b ... -m``: Hydra multiruns over one node's definition.

Each trial trains the node on the cached data exactly as ``train@NODE`` would, logs a
child run under one MLflow parent run, and publishes nothing; the trials are ranked by
their best validation loss or accuracy, and ``--apply`` writes the winner's values into
``conf/classifiers/NODE.yaml``.

The names below load on first use: :mod:`taxonomist.sweep.overrides` checks a sweep's
command line without importing torch and Lightning, which take seconds.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "SweepResult": "app", "run_sweep": "app", "Change": "apply", "apply_values": "apply",
    "TrialRow": "results", "format_table": "results", "Objective": "trial",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
