"""A baseline's answers per image, as the baseline stage writes and the card reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from taxonomist.contracts.baselines import (
    predictions_file,
    predictions_table,
    read_predictions,
    write_predictions,
)
from taxonomist.errors import DataError


def test_ids_and_leaves_that_look_like_numbers_stay_strings(tmp_path: Path) -> None:
    table = predictions_table(["007", "1e3"], ["7", "NA"], ["7", "1"])
    path = write_predictions(predictions_file(tmp_path, "flat"), table)
    assert path == tmp_path / "flat.csv"
    read = read_predictions(path)
    assert read.to_dict("list") == {"id": ["007", "1e3"], "label": ["7", "NA"],
                                    "predicted": ["7", "1"], "correct": [True, False]}


def test_a_file_without_a_column_names_it_and_the_stage(tmp_path: Path) -> None:
    path = tmp_path / "svc.csv"
    path.write_text("id,label,predicted\na,zero,zero\n")
    with pytest.raises(DataError, match=r"svc\.csv: .*missing correct; rerun `dvc repro base"):
        read_predictions(path)
