"""Corrections: what a re-ingested row changes about a recorded image, and whose word wins.

Every ``label_source`` has a rank, from ``data.label_precedence`` (highest first). A row
whose label_source ranks at least as high as the recorded one changes every value of
:data:`~taxonomist.contracts.manifest.CORRECTABLE_COLUMNS` it disagrees on (at equal rank
the newer row wins); a lower-ranked row changes nothing, and what it proposed is kept in
the label history as overruled, so no one's word is dropped silently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from taxonomist.config import DataConfig
from taxonomist.contracts.manifest import CORRECTABLE_COLUMNS, PROVENANCE_COLUMNS
from taxonomist.errors import ConfigError

DEFAULT_PRECEDENCE = ("expert", "crowd", "import")


@dataclass(frozen=True)
class Precedence:
    """Label sources, highest first; one not listed ranks below every listed one."""

    order: tuple[str, ...] = DEFAULT_PRECEDENCE

    @classmethod
    def from_config(cls, data: DataConfig) -> Precedence:
        """The order ``data.label_precedence`` gives.

        Raises:
            ConfigError: the list is empty, has a blank entry, or names a source twice.
        """
        file, key = f"conf/data/{data.kind}.yaml", "label_precedence"
        order = tuple(str(name).strip() for name in data.label_precedence)
        example = f"e.g. {key}: [{', '.join(DEFAULT_PRECEDENCE)}]"
        if not order or "" in order:
            raise ConfigError(file, key, f"expected label sources, highest first, got "
                              f"{list(data.label_precedence)}", example)
        twice = sorted(name for name, n in Counter(order).items() if n > 1)
        if twice:
            raise ConfigError(file, key, f"{', '.join(twice)} listed more than once; each "
                              "label source has one rank", example)
        return cls(order)

    def rank(self, label_source: str) -> int:
        """Higher wins: the first listed ranks ``len(order)``, one not listed 0."""
        if label_source not in self.order:
            return 0
        return len(self.order) - self.order.index(label_source)

    def overrules(self, new: str, recorded: str) -> bool:
        """Whether a row from ``new`` may change values recorded from ``recorded``."""
        return self.rank(new) >= self.rank(recorded)


@dataclass(frozen=True)
class Change:
    """One value a row disagrees on: the column, what is recorded, what the row says."""

    column: str
    old: str
    new: str


@dataclass(frozen=True)
class Decision:
    """What a row proposes for a recorded image, and whether it is applied."""

    changes: tuple[Change, ...]
    applied: bool
    recorded_source: str
    proposed_source: str

    def values(self) -> dict[str, str]:
        """The new values, column by column, for the manifest."""
        return {change.column: change.new for change in self.changes}


def decide(recorded: Mapping[str, str], proposed: Mapping[str, str],
           precedence: Precedence) -> Decision:
    """Compare a row's values with the recorded ones and settle who wins.

    Args:
        recorded: the image's :data:`CORRECTABLE_COLUMNS` as the manifest has them.
        proposed: the same columns as the row gives them.
        precedence: the rank of each label source.

    Returns:
        The disagreements; none when the row says what is recorded. An overruled row's
        own provenance (label_source, workers, agreement) is no disagreement: it proposes
        values, not its rank.
    """
    old, new = recorded["label_source"], proposed["label_source"]
    applied = precedence.overrules(new, old)
    changes = tuple(
        Change(column, recorded[column], proposed[column])
        for column in CORRECTABLE_COLUMNS
        if recorded[column] != proposed[column] and (applied or column not in PROVENANCE_COLUMNS)
    )
    return Decision(changes, applied, old, new)
