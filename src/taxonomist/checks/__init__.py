"""Data checks: great-expectations suites built from the taxonomy, run on the manifest
and its splits.

Importing this package is cheap; great-expectations is imported when :func:`validate`
runs.
"""

from taxonomist.checks.inputs import Inputs, read_inputs
from taxonomist.checks.report import ValidationReport
from taxonomist.checks.tables import REQUIRED_COLUMNS, class_counts, imbalance
from taxonomist.checks.validate import validate

__all__ = [
    "REQUIRED_COLUMNS",
    "Inputs",
    "ValidationReport",
    "class_counts",
    "imbalance",
    "read_inputs",
    "validate",
]
