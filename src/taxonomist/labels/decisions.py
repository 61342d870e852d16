"""``taxonomist label apply decisions.csv``: the expert's word, for the next ingest.

A decisions CSV has a row per image: ``image`` (its sha256 id, the first digits of it, or
its path), ``label`` (blank: keep the current one) and, optionally, ``excluded`` (blank:
in use, or one of the exclusion reasons) and ``suggested``. ``label queue`` prefills a
likely error's ``label`` with the models' suggestion and marks it ``suggested``: such a
row is not yet the expert's word, so it is refused until the expert accepts it (blanks
``suggested``, or passes ``accept_suggestions`` for every row left in the file: the
expert read them all). Every row is checked before anything is written; the rows land
in ``labels/expert.csv``, which the next ingest applies as ``label_source=expert``, above
the crowd and the import.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from taxonomist.config import Paths
from taxonomist.contracts.labels import EXPERT, label_file, read_decided, write_decided
from taxonomist.contracts.manifest import EXCLUSION_REASONS
from taxonomist.data.history import find_image
from taxonomist.errors import DataError
from taxonomist.taxonomy import Taxonomy


def apply_decisions(file: Path, manifest: pd.DataFrame, taxonomy: Taxonomy,
                    paths: Paths, accept_suggestions: bool = False) -> int:
    """Record the expert's decisions in ``labels/expert.csv``; return how many.

    Args:
        accept_suggestions: the rows still marked ``suggested`` are decisions too.

    Raises:
        DataError: the file is missing, empty or lacks ``image`` and ``label``, a row
            names an image not in the manifest, a label not in the taxonomy or an unknown
            exclusion reason, or is still a suggestion (naming the file and line);
            nothing is written.
    """
    rows = _read(file)
    if not accept_suggestions:
        _refuse_suggestions(rows, file)
    decided = pd.DataFrame([_decision(row, f"{file} line {n + 2}", manifest, taxonomy, file)
                            for n, row in enumerate(rows.to_dict("records"))])
    target = label_file(paths.labels, EXPERT)
    old = read_decided(target, EXPERT)
    write_decided(target, pd.concat([old[~old["id"].isin(decided["id"])], decided]), EXPERT)
    return len(decided)


def _read(file: Path) -> pd.DataFrame:
    if not file.is_file():
        raise DataError(f"{file}: no such file")
    try:
        rows = pd.read_csv(file, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        rows = pd.DataFrame()
    missing = [c for c in ("image", "label") if c not in rows.columns]
    if missing or rows.empty:
        raise DataError(f"{file}: expected a header row with image, label (and optionally "
                        "excluded) and a row per decision; "
                        + (f"missing {', '.join(missing)}" if missing else "no rows"))
    return rows


def _refuse_suggestions(rows: pd.DataFrame, file: Path) -> None:
    if "suggested" not in rows.columns:
        return
    pending = [n for n, mark in enumerate(rows["suggested"]) if mark.strip()]
    if not pending:
        return
    more = f" (and {len(pending) - 1} more rows)" if len(pending) > 1 else ""
    raise DataError(
        f"{file} line {pending[0] + 2}{more}: label {rows['label'].iloc[pending[0]]!r} is "
        "the models' suggestion (column suggested), not yet your decision; for each such "
        "row blank `suggested` to accept it, change the label, or delete the row; or pass "
        "--accept-suggestions to accept every suggestion left in the file")


def _decision(row: dict[str, str], where: str, manifest: pd.DataFrame, taxonomy: Taxonomy,
              file: Path) -> dict[str, str]:
    try:
        image = find_image(row["image"], manifest, "the manifest")
    except DataError as err:
        raise DataError(f"{where}: {err}") from None
    label, excluded = row["label"].strip(), row.get("excluded", "").strip()
    if label and label not in taxonomy:
        raise DataError(f"{where}: label {label!r} is not a class of taxonomy "
                        f"'{taxonomy.name}' ({taxonomy.source})")
    if excluded and excluded not in EXCLUSION_REASONS:
        raise DataError(f"{where}: excluded is {excluded!r}; expected it blank or one of "
                        f"{', '.join(EXCLUSION_REASONS)}")
    return {"id": image["id"], "path": image["path"], "label": label, "excluded": excluded,
            "label_workers": "1", "label_agreement": "", "origin": file.name}
