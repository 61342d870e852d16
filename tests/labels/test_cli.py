"""The verbs: `taxonomist label import` aggregates by the configured method, and a bad
file is an error naming it, not a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from taxonomist.cli import main
from tests.conftest import REPO
from tests.labels.conftest import mturk_results, tasks, three_workers


@pytest.fixture
def conf(ingested) -> Path:
    paths, _ = ingested
    shutil.copytree(REPO / "conf", paths.conf)
    return paths.conf


def test_label_import_uses_crowd_aggregation_from_conf(ingested, batch, conf, tmp_path,
                                                       capsys) -> None:
    paths, _ = ingested
    config = conf / "config.yaml"
    config.write_text(config.read_text().replace("aggregation: one_coin_dawid_skene",
                                                 "aggregation: mace"))
    results = mturk_results(tmp_path / "results.csv", batch, three_workers(tasks(batch, paths)))
    assert main(["--config-dir", str(conf), "label", "import", str(results)]) == 0
    assert "aggregated by mace" in capsys.readouterr().out
    assert set(pd.read_csv(paths.crowd_workers)["method"]) == {"mace"}


def test_a_refused_import_is_an_error_naming_the_file(ingested, conf, tmp_path, capsys) -> None:
    empty = tmp_path / "results.csv"
    empty.write_text("")
    assert main(["--config-dir", str(conf), "label", "import", str(empty)]) == 2
    assert f"taxonomist label: error: {empty}: empty" in capsys.readouterr().err
