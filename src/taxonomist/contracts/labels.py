"""The label files ingest applies: what the crowd and the expert decided, one row per image.

``labels/crowd.csv`` is written by ``taxonomist label import`` (the aggregate of a batch's
answers, with what the live stack said when it was heard) and ``labels/expert.csv`` by
``taxonomist label apply``; both live in git beside ``conf/``, so every decision is
reviewed in a diff, and both are dependencies of the ingest stage, so changing one is a
new data version for ``dvc repro``. Ingest applies each row to the recorded image with
that ``id`` under ``data.label_precedence``, as it applies a re-ingested source row
(:mod:`taxonomist.data.corrections`), with the row's file as its ``label_source``: crowd
or expert.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from taxonomist.contracts.files import write_atomic
from taxonomist.errors import DataError

# A blank label keeps the recorded one (an expert who only excludes an image).
DECIDED_COLUMNS = ("id", "path", "label", "label_workers", "label_agreement", "origin")
# What the live stack said about the image when the aggregation heard it: its likeliest
# class, its probability, and its share of the image's evidence (blank: not heard).
MODEL_COLUMNS = ("model_label", "model_probability", "model_weight")
# The crowd's label also has the aggregation's probability that it is right.
CROWD_COLUMNS = (*DECIDED_COLUMNS, "confidence", *MODEL_COLUMNS)
# Columns a file written before they existed lacks: read as blank.
OPTIONAL_COLUMNS = frozenset(MODEL_COLUMNS)
# Only the expert excludes: a blank ``excluded`` there puts the image (back) in use.
EXPERT_COLUMNS = (*DECIDED_COLUMNS, "excluded")
CROWD, EXPERT = "crowd", "expert"
COLUMNS_OF = {CROWD: CROWD_COLUMNS, EXPERT: EXPERT_COLUMNS}


def label_file(labels_dir: Path, label_source: str) -> Path:
    """``labels/crowd.csv`` or ``labels/expert.csv``."""
    return labels_dir / f"{label_source}.csv"


def read_decided(path: Path, label_source: str) -> pd.DataFrame:
    """The rows of a label file, all text; none when the file does not exist yet. A
    column of :data:`OPTIONAL_COLUMNS` the file lacks is read as blank.

    Raises:
        DataError: the file lacks one of its other columns (it was edited by hand).
    """
    columns = COLUMNS_OF[label_source]
    if not path.is_file():
        return pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    try:
        rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: empty; it needs its header row ({','.join(columns)}); "
                        f"restore it with `git checkout {path.name}`") from None
    missing = [c for c in columns if c not in rows.columns and c not in OPTIONAL_COLUMNS]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (expected "
                        f"{', '.join(columns)}); restore it with `git checkout -- {path}`")
    return rows.reindex(columns=list(columns), fill_value="")


def write_decided(path: Path, rows: pd.DataFrame, label_source: str) -> None:
    """Write a label file (atomically): one row per image, sorted by id for small diffs."""
    columns = list(COLUMNS_OF[label_source])
    table = rows[columns].sort_values("id", kind="stable")
    write_atomic(path, lambda tmp: table.to_csv(tmp, index=False))
