"""An input rewritten while its stage runs (iterative/dvc#11058): the stage fails naming it.

DVC hashes a stage's dependencies only after the command ends, so without this check
``dvc.lock`` would record a manifest the stage never read. Here another writer replaces
``data/manifest.parquet`` right after ``split`` has read it.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pandas as pd
import pytest

from taxonomist import cli
from taxonomist.config import compose_config
from taxonomist.contracts.inputs import stage_deps
from taxonomist.pipeline import dvc_yaml

# the module: `taxonomist.data.split` is also the stage function the package exports
split_module = importlib.import_module("taxonomist.data.split")


@pytest.fixture
def ingested(project: Path) -> Path:
    """The project with a few sample images ingested: ``split`` can run."""
    for verb in (["pipeline", "data.per_class=3"], ["sample"], ["ingest"]):
        assert cli.main(verb) == 0
    return project


def test_a_manifest_rewritten_while_split_runs_fails_the_stage_naming_it(
    ingested: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    manifest = ingested / "data" / "manifest.parquet"
    read_manifest = split_module.read_manifest

    def read_then_rewritten_by_someone_else(path: Path, *args, **kwargs) -> pd.DataFrame:
        seen = read_manifest(path, *args, **kwargs)
        pd.read_parquet(manifest).iloc[:-1].to_parquet(manifest, index=False)  # a row less
        return seen

    monkeypatch.setattr(split_module, "read_manifest", read_then_rewritten_by_someone_else)
    assert cli.main(["split"]) == 2, "the stage must fail, so DVC records nothing"
    error = capsys.readouterr().err
    assert "split: 1 input file(s) changed while the stage ran" in error
    assert "data/manifest.parquet: rewritten (" in error
    assert "rerun `dvc repro split`" in error


def test_split_with_its_inputs_left_alone_passes(ingested: Path) -> None:
    assert cli.main(["split"]) == 0


def test_train_watches_its_cache_and_params_and_what_it_starts_from(project: Path) -> None:
    assert cli.main(["pipeline", "classifiers.round.backbone.init_from=digit"]) == 0
    generated = dvc_yaml(compose_config(str(project / "conf")))
    assert set(stage_deps(generated, "train@round")) == {
        "data/cache/round", "models/digit", "params/round.json"
    }
    assert stage_deps(generated, "evaluate@round") == ["models/round", "data/cache/round"]
