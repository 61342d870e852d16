"""Every data check the validate stage runs, in the order it runs and reports them.

To add a check, write its class in the module of its family and list an instance in
:data:`CHECKS`. The order matters: checks on one table run as one suite, suites run in
the order their first check appears here, and the report lists failures in that order.
It also orders the validate stage's DVC params (:func:`classifier_keys`, :func:`params`).

Importing this module imports pandas, numpy and scipy but never great-expectations, so
:mod:`taxonomist.pipeline` can derive the stage's params from it.
"""

from __future__ import annotations

from dataclasses import fields

from taxonomist.checks import (
    balance,
    bias,
    coverage,
    divergence,
    leakage,
    manifest,
    near_duplicates,
    rejects,
)
from taxonomist.checks.base import Check, Table
from taxonomist.config.schema import ClassifierConfig


def _registered(*checks: Check) -> tuple[Check, ...]:
    """``checks``, once each name is known to be unique and each key to exist."""
    names: dict[str, Check] = {}
    tables: dict[str, Table] = {}
    known = {f.name for f in fields(ClassifierConfig)}
    for check in checks:
        kind = type(check).__name__
        if check.name in names:
            raise ValueError(
                f"checks {type(names[check.name]).__name__} and {kind} are both named "
                f"'{check.name}': give one of them another name"
            )
        names[check.name] = check
        if tables.setdefault(check.table.name, check.table) is not check.table:
            raise ValueError(
                f"{kind}'s table '{check.table.name}' is another table of that name: "
                f"checks on one table must share its Table object"
            )
        unknown = [key for key in check.reads if key not in known]
        if unknown:
            raise ValueError(
                f"{kind} reads {', '.join(unknown)}, which ClassifierConfig does not have "
                f"(it has {', '.join(sorted(known))})"
            )
    return checks


CHECKS: tuple[Check, ...] = _registered(
    manifest.Columns(),
    manifest.Missing("id"),
    manifest.UniqueIds(),
    manifest.Missing("label"),
    manifest.KnownLabels(),
    manifest.InASplit(),
    manifest.WellFormedHashes(),
    manifest.BoxesInside(),
    coverage.MinImages(),
    coverage.RecommendedImages(),
    balance.MaxImbalance(),
    bias.DominantSource(),
    divergence.SplitDivergence(),
    leakage.SetInTrainAndTest(),
    leakage.SetInValAndOther(),
    rejects.RejectedLabelConflicts(),
    near_duplicates.NearDuplicateAcrossTrainAndTest(),
    near_duplicates.NearDuplicateAcrossSets(),
)
_BY_NAME = {check.name: check for check in CHECKS}


def check_named(name: str) -> Check:
    """The registered check called ``name``.

    Raises:
        LookupError: no registered check has that name: an expectation was built with
            a name that no check words, a bug in taxonomist rather than in the data.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise LookupError(
            f"no registered data check is named {name!r} (registered: "
            f"{', '.join(_BY_NAME)}); build expectations with Check.meta() and list the "
            f"check in taxonomist/checks/registry.py"
        ) from None


def classifier_keys(checks: tuple[Check, ...] = CHECKS) -> tuple[str, ...]:
    """The classifier keys ``checks`` read, each once, in their order."""
    return tuple(dict.fromkeys(key for check in checks for key in check.reads))


def params(checks: tuple[Check, ...] = CHECKS) -> tuple[str, ...]:
    """The other ``params.yaml`` keys ``checks`` read, each once, in their order."""
    return tuple(dict.fromkeys(key for check in checks for key in check.params))
