"""Data checks: great-expectations suites built from the taxonomy, run on the manifest
and its splits.

One module per family of checks (:mod:`~.manifest`, :mod:`~.coverage`, :mod:`~.balance`,
:mod:`~.bias`, :mod:`~.divergence`, :mod:`~.leakage`, :mod:`~.near_duplicates`,
:mod:`~.rejects`), each check a :class:`~.base.Check` listed in :mod:`~.registry`.
Importing this package is cheap; great-expectations is imported when :func:`validate`
runs, by :mod:`~.runner` alone.
"""

from taxonomist.checks.balance import imbalance
from taxonomist.checks.coverage import class_counts
from taxonomist.checks.inputs import Inputs, read_inputs
from taxonomist.checks.report import ValidationReport
from taxonomist.checks.validate import validate

__all__ = [
    "Inputs",
    "ValidationReport",
    "class_counts",
    "imbalance",
    "read_inputs",
    "validate",
]
