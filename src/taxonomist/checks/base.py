"""What a data check is: the table it runs on, its expectations, and how it words a failure.

A check is one kind of finding (a class below ``min_images``, a set in train and test)
with one severity. Checks that look at the same table share a :class:`Table`, and the
runner builds one great-expectations suite per table from its checks' expectations
(each expectation costs about 10 ms, each suite about 50 ms, so a table holds every
node's thresholds in columns and one expectation checks every node).

A check never imports great-expectations: the runner hands it the ``gx.expectations``
module. Severity is a plain string, which great-expectations 1.x turns into its
``FailureSeverity`` (the ``severity`` field of ``Expectation`` is a pydantic field of
that ``str`` enum).

Example:
    A check that no image is wider than 10,000 pixels, in a family module::

        class TooWide(Check):
            name = "too_wide"
            table = IMAGES
            severity = "warning"

            def expectations(self, expect, data):
                return [expect.ExpectColumnValuesToBeBetween(
                    column="width", max_value=10_000, severity=self.severity,
                    meta=self.meta())]

            def messages(self, failure):
                return [Message(("manifest", "wide"), f"manifest: ... ({paths(failure.result)})")]

    and one line in :data:`taxonomist.checks.registry.CHECKS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple

from taxonomist.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from taxonomist.checks.dataset import Dataset
    from taxonomist.config.schema import ClassifierConfig

Severity = Literal["critical", "warning"]


class Message(NamedTuple):
    """One finding: what it is about (e.g. a node and class) and the text for the user.

    A subject with an error gets no warning as well (see :func:`~.verdict.sort_messages`),
    so a class below ``min_images`` is not also warned about for ``recommended_images``.
    """

    subject: tuple[str, ...]
    text: str


class Failure(NamedTuple):
    """A failed expectation, as its check words it.

    Attributes:
        result: great-expectations' result dict (``unexpected_index_list`` and so on).
        column: the expectation's ``column``, ``""`` for one without.
        meta: the expectation's ``meta``: ``{"check": <name>, ...}``.
    """

    result: dict[str, Any]
    column: str
    meta: Mapping[str, Any]


@dataclass(frozen=True)
class Settings:
    """The validate stage's settings that are not per node (conf/config.yaml).

    Attributes:
        max_distance: perceptual hashes at most this many bits apart are near-duplicates
            (``split.near_duplicate_distance``).
    """

    max_distance: int = 4


@dataclass(frozen=True, eq=False)
class Table:
    """The table a group of checks runs on: one great-expectations suite.

    Attributes:
        name: the suite's name, its key in the report's ``statistics`` and its folder
            in the Data Docs.
        derive: builds the table from the data set; called once per run (see
            :meth:`~.dataset.Dataset.derived`). None means there is nothing to check.
        index: columns that name a failing row in the messages; those missing from the
            table are left out.
        examples: keep only this many failing rows per expectation, for tables as long
            as the manifest; None keeps them all.
        requires: columns of the images without which the suite does not run. Every
            suite but the manifest's needs ``label``: without it every class would count
            as empty, and the manifest's column check is the one error worth reporting.
        runs_empty: False skips the suite on a table without rows.
    """

    name: str
    derive: Callable[[Dataset], pd.DataFrame | None]
    index: tuple[str, ...] = ()
    examples: int | None = None
    requires: tuple[str, ...] = ("label",)
    runs_empty: bool = True


class Check:
    """One kind of finding, with its expectations and the words for its failures.

    Subclasses set the class attributes and fill :meth:`expectations` and
    :meth:`messages`; those whose classifier keys have a range also fill
    :meth:`check_definition` (or :meth:`check_settings` for a stage-wide key).

    Attributes:
        name: the check's identity, in each of its expectations' ``meta``; unique among
            the registered checks.
        table: what it runs on.
        severity: ``critical`` fails validation, ``warning`` does not.
        reads: the classifier keys it reads (``conf/classifiers/<node>.yaml``); the
            validate stage's DVC params are the union over the registered checks.
        params: other ``params.yaml`` keys it reads (``taxonomy``, ``split.*``).
    """

    name: str
    table: ClassVar[Table]
    severity: ClassVar[Severity] = "critical"
    reads: ClassVar[tuple[str, ...]] = ()
    params: ClassVar[tuple[str, ...]] = ()

    def expectations(self, expect: ModuleType, data: Dataset) -> list[Any]:
        """The great-expectations expectations of this check, in the order they run.

        Args:
            expect: the ``great_expectations.expectations`` module.
            data: the data set, for what the expectations are built from (the taxonomy).

        Returns:
            ``Expectation`` objects, each with ``meta=self.meta(...)``; those on a column
            the table lacks are left out by the runner.
        """
        raise NotImplementedError(f"{type(self).__name__} must define expectations()")

    def messages(self, failure: Failure) -> list[Message]:
        """Words a failed expectation: what was checked, what was found, how to fix it."""
        raise NotImplementedError(f"{type(self).__name__} must define messages()")

    def check_settings(self, settings: Settings) -> None:
        """Raise a ConfigError when a stage-wide setting this check reads is out of range."""

    def check_definition(self, node: str, definition: ClassifierConfig) -> None:
        """Raise a ConfigError when a classifier key this check reads is out of range."""

    def meta(self, **extra: Any) -> dict[str, Any]:
        """The ``meta`` of an expectation of this check: its name, plus ``extra``."""
        return {"check": self.name, **extra}


def require_fraction(node: str, definition: ClassifierConfig, key: str, *, zero_ok: bool) -> None:
    """Raise a ConfigError unless the classifier key ``key`` is a fraction up to 1.

    Args:
        node: the inner node whose definition it is, for the file in the message.
        definition: that node's classifier definition.
        key: the attribute of ``definition`` to check.
        zero_ok: whether 0 is allowed (a share of 0 would flag every class).
    """
    value = getattr(definition, key)
    least_ok = 0.0 if zero_ok else 1e-9
    if not least_ok <= value <= 1.0:
        raise ConfigError(
            f"conf/classifiers/{node}.yaml (or _default.yaml)", key,
            f"expected a fraction from {'0' if zero_ok else 'above 0'} to 1, got {value}",
            "e.g. 0.9 for a share, 0.2 for max_split_divergence",
        )
