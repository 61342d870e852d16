"""How wrong the stack's mistakes are: tree distance and kind, from ``reports/outcomes.parquet``.

In a hierarchy not every mistake costs the same. Calling a six a zero (same family) or
stopping at ``round`` when unsure is sensibly wrong; calling it a one (another branch)
is not. The promote stage writes one row per test image with, for each stack, the class
it predicted, whether that was right, the tree distance to the truth and the walk it
took; this module counts the mistakes by distance and by kind for both stacks.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from taxonomist.config import Paths
from taxonomist.errors import DataError
from taxonomist.taxonomy import Taxonomy

OUTCOMES_FILE = "outcomes.parquet"  # written by the promote stage into reports/
STOPPED_EARLY = "stopped early on the true path"
SIBLING = "right parent, wrong class"
WRONG_BRANCH = "wrong branch"
KINDS = (STOPPED_EARLY, SIBLING, WRONG_BRANCH)
SENSIBLE = (STOPPED_EARLY, SIBLING)
_SIDE_COLUMNS = ("predicted", "correct", "distance", "path")


@dataclass(frozen=True)
class SeverityRow:
    """Mistakes at one tree distance (or of one kind), for each stack; live None if none."""

    key: str
    challenger: int
    live: int | None


@dataclass(frozen=True)
class MistakeSummary:
    """Both stacks' mistakes on the test split.

    Attributes:
        n_images: test images in outcomes.parquet.
        by_distance: one row per tree distance that occurs, nearest first.
        by_kind: one row per kind in :data:`KINDS`.
    """

    n_images: int
    challenger_mistakes: int
    live_mistakes: int | None
    by_distance: list[SeverityRow]
    by_kind: list[SeverityRow]


def load_outcomes(paths: Paths) -> pd.DataFrame | None:
    """``reports/outcomes.parquet``, or None when the promote stage did not write one.

    Raises:
        DataError: the file lacks a column the card needs.
    """
    path = paths.reports / OUTCOMES_FILE
    if not path.is_file():
        return None
    outcomes = pd.read_parquet(path)
    needed = ["id", "label", *(f"challenger_{c}" for c in _SIDE_COLUMNS)]
    missing = [c for c in needed if c not in outcomes.columns]
    if missing:
        raise DataError(
            f"{path}: expected columns {', '.join(needed)}; missing {', '.join(missing)}\n"
            "  hint: rerun `dvc repro promote` to rewrite it"
        )
    return outcomes


def mistake_kind(taxonomy: Taxonomy, label: str, predicted: str) -> str | None:
    """The kind of mistake of predicting ``predicted`` for ``label``, None if it is none.

    Going deeper than an image's label (``six`` for an image labelled only ``round``)
    is not a mistake, though it is not counted correct either.

    Example:
        >>> t = Taxonomy.from_tree("d", {"digit": {"round": ["zero", "six"], "one": None}})
        >>> [mistake_kind(t, "six", p) for p in ("six", "round", "zero", "one")]
        [None, 'stopped early on the true path', 'right parent, wrong class', 'wrong branch']
    """
    if predicted == label or predicted not in taxonomy or label not in taxonomy:
        return None if predicted == label else WRONG_BRANCH
    if predicted in taxonomy.path(label):
        return STOPPED_EARLY
    if label in taxonomy.path(predicted):
        return None
    if taxonomy.parent[predicted] == taxonomy.parent[label]:
        return SIBLING
    return WRONG_BRANCH


def with_kinds(taxonomy: Taxonomy, outcomes: pd.DataFrame, side: str) -> pd.Series:
    """The kind of each row's mistake by ``side`` (``"challenger"``/``"live"``), or None."""
    predicted = outcomes[f"{side}_predicted"]
    return pd.Series(
        [None if pd.isna(p) else mistake_kind(taxonomy, str(t), str(p))
         for t, p in zip(outcomes["label"], predicted, strict=True)],
        index=outcomes.index, dtype=object,
    )


def summarise_mistakes(taxonomy: Taxonomy, outcomes: pd.DataFrame) -> MistakeSummary:
    """Count each stack's mistakes by tree distance and by kind."""
    has_live = "live_predicted" in outcomes and outcomes["live_predicted"].notna().any()
    kinds = {"challenger": with_kinds(taxonomy, outcomes, "challenger")}
    if has_live:
        kinds["live"] = with_kinds(taxonomy, outcomes, "live")
    distances = {
        side: outcomes.loc[kind.notna(), f"{side}_distance"].astype(int).value_counts()
        for side, kind in kinds.items()
    }
    live_d, live_k = distances.get("live"), kinds.get("live")
    all_distances = sorted(set().union(*(d.index for d in distances.values())))
    return MistakeSummary(
        n_images=len(outcomes),
        challenger_mistakes=int(kinds["challenger"].notna().sum()),
        live_mistakes=None if live_k is None else int(live_k.notna().sum()),
        by_distance=[
            SeverityRow(str(d), int(distances["challenger"].get(d, 0)),
                        None if live_d is None else int(live_d.get(d, 0)))
            for d in all_distances
        ],
        by_kind=[
            SeverityRow(k, int((kinds["challenger"] == k).sum()),
                        None if live_k is None else int((live_k == k).sum()))
            for k in KINDS
        ],
    )
