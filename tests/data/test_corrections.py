"""Corrections on re-ingest: precedence of label sources, a history that loses nothing,
exclusion, and splits and caches that change only where a correction must move them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from taxonomist.cli import main
from taxonomist.config import DataConfig, Paths, SplitConfig
from taxonomist.contracts.cache import STACK
from taxonomist.contracts.manifest import test_labels_changed as count_test_labels_changed
from taxonomist.data import Precedence, build_cache, ingest, split
from taxonomist.data.history import read_history
from taxonomist.errors import ConfigError
from taxonomist.taxonomy import Taxonomy
from tests.data.conftest import SourceFolder, image_bytes
from tests.data.test_cache import SIZES, folder_bytes
from tests.data.test_split import write_manifest


def relabel(folder: SourceFolder, path: str, **values: str) -> None:
    """Change the source manifest's row for ``path``, as an expert editing the CSV does."""
    (row,) = (row for row in folder.rows if row["path"] == path)
    row.update(values)


def recorded(paths: Paths, path: str) -> dict:
    manifest = pd.read_parquet(paths.manifest)
    return manifest[manifest["path"] == path].iloc[0].to_dict()


def label_changes(paths: Paths) -> list[tuple[str, str, str, str]]:
    rows = read_history(paths.label_history)
    rows = rows[rows["column"] == "label"]
    return list(rows[["old", "new", "new_label_source", "outcome"]].itertuples(index=False,
                                                                              name=None))


@pytest.fixture
def one_circle(folder: SourceFolder, taxonomy: Taxonomy, paths: Paths) -> SourceFolder:
    folder.add("a.png", "circle", image_bytes(1))
    ingest(folder.source(), taxonomy, paths)
    return folder


def test_expert_beats_crowd_beats_import_and_the_overruled_word_is_kept(
    one_circle: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    relabel(one_circle, "a.png", label="oval", label_source="crowd")
    crowd = ingest(one_circle.source(), taxonomy, paths)
    relabel(one_circle, "a.png", label="square", label_source="import")
    imported = ingest(one_circle.source(), taxonomy, paths)
    relabel(one_circle, "a.png", label="triangle", label_source="expert")
    ingest(one_circle.source(), taxonomy, paths)
    relabel(one_circle, "a.png", label="oval", label_source="crowd")
    ingest(one_circle.source(), taxonomy, paths)

    assert (crowd.corrected, imported.overruled, imported.rejected) == (1, 1, 0)
    assert "1 overruled" in imported.summary()
    now = recorded(paths, "a.png")
    assert (now["label"], now["label_source"]) == ("triangle", "expert")
    assert label_changes(paths) == [
        ("circle", "oval", "crowd", "applied"),
        ("oval", "square", "import", "overruled"),
        ("oval", "triangle", "expert", "applied"),
        ("triangle", "oval", "crowd", "overruled"),
    ]


def test_at_equal_rank_the_newer_row_wins(
    one_circle: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    relabel(one_circle, "a.png", label="oval")
    result = ingest(one_circle.source(), taxonomy, paths)
    assert (result.corrected, result.rejected) == (1, 0), "no label_conflict any more"
    assert recorded(paths, "a.png")["label"] == "oval"


def test_changed_metadata_is_applied_and_a_blank_date_changes_nothing(
    one_circle: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    relabel(one_circle, "a.png", set_id="car7", source="phone", taken_at="")
    ingest(one_circle.source(), taxonomy, paths)
    now = recorded(paths, "a.png")
    assert (now["set_id"], now["source"], now["taken_at"]) == ("car7", "phone", "2024-05-01")
    changed = read_history(paths.label_history)["column"].tolist()
    assert changed == ["set_id", "source"]


def test_the_history_keeps_every_earlier_value_after_two_corrections(
    one_circle: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    for label in ("oval", "square"):
        relabel(one_circle, "a.png", label=label, label_source="expert")
        ingest(one_circle.source(), taxonomy, paths)
    assert label_changes(paths) == [("circle", "oval", "expert", "applied"),
                                    ("oval", "square", "expert", "applied")]
    sources = read_history(paths.label_history).query("column == 'label_source'")
    assert sources[["old", "new"]].values.tolist() == [["import", "expert"]]


def test_a_reingest_that_changes_nothing_writes_nothing_new(
    one_circle: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    relabel(one_circle, "a.png", label="oval", label_source="expert")
    ingest(one_circle.source(), taxonomy, paths)
    relabel(one_circle, "a.png", label="circle", label_source="import")  # overruled
    ingest(one_circle.source(), taxonomy, paths)
    files = (paths.manifest, paths.label_history)
    before = [(f.read_bytes(), f.stat().st_mtime_ns) for f in files]

    again = ingest(one_circle.source(), taxonomy, paths)

    assert [(f.read_bytes(), f.stat().st_mtime_ns) for f in files] == before
    assert (again.overruled, again.corrected, again.added) == (1, 0, 0)
    assert len(label_changes(paths)) == 2, "the same overruled proposal is recorded once"


def test_a_first_ingest_writes_an_empty_history_for_dvc(
    one_circle: SourceFolder, paths: Paths
) -> None:
    assert read_history(paths.label_history).empty


def test_an_excluded_image_leaves_the_splits_but_not_the_store_or_history(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    for i in range(12):
        folder.add(f"{i}.png", ["circle", "square"][i % 2], image_bytes(30 + i))
    ingest(folder.source(), taxonomy, paths)
    split(SplitConfig(), 0, paths)
    relabel(folder, "3.png", excluded="duplicate", label_source="expert")
    ingest(folder.source(), taxonomy, paths)

    splits = split(SplitConfig(), 0, paths)

    gone = recorded(paths, "3.png")
    assert gone["excluded"] == "duplicate"
    assert (paths.root / gone["stored"]).is_file()
    assert gone["id"] not in set(splits["id"]) and len(splits) == 11
    history = read_history(paths.label_history)
    assert ("excluded", "", "duplicate") in set(history[["column", "old", "new"]]
                                                .itertuples(index=False, name=None))
    result = build_cache(taxonomy, SIZES, paths)  # no "images have no split"
    assert sum(result.counts["shape"].values()) == 11


def test_an_unknown_exclusion_reason_is_rejected(
    one_circle: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    relabel(one_circle, "a.png", excluded="no")
    result = ingest(one_circle.source(), taxonomy, paths)
    reject = pd.read_csv(paths.rejects).iloc[0]
    assert (result.rejected, reject["kind"]) == (1, "bad_exclusion")
    assert "expected it blank (the image is used) or one of duplicate" in reject["reason"]
    assert recorded(paths, "a.png")["excluded"] == ""


def test_a_copy_under_another_path_that_changes_nothing_is_still_a_duplicate(
    one_circle: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    one_circle.rows.clear()
    one_circle.add("copy.png", "circle", image_bytes(1))
    result = ingest(one_circle.source(), taxonomy, paths)
    assert pd.read_csv(paths.rejects)["kind"].tolist() == ["duplicate"]
    assert result.corrected == 0


def _frozen(paths: Paths) -> pd.DataFrame:
    write_manifest(paths, sets_per_label=20)
    return split(SplitConfig(), 0, paths)


def _set_in(splits: pd.DataFrame, name: str) -> str:
    return splits.loc[splits["split"] == name, "set_id"].iloc[0]


def _rewrite(paths: Paths, **changes) -> pd.DataFrame:
    manifest = pd.read_parquet(paths.manifest)
    for column, (mask_of, value) in changes.items():
        manifest.loc[mask_of(manifest), column] = value
    manifest.to_parquet(paths.manifest, index=False)
    return manifest


@pytest.mark.parametrize(("first", "second", "merged"),
                         [("train", "test", "train"), ("val", "test", "val")])
def test_a_set_merged_across_splits_moves_whole_and_nothing_else_moves(
    first: str, second: str, merged: str, paths: Paths
) -> None:
    frozen = _frozen(paths)
    before = frozen.set_index("id")["split"]
    one, other = _set_in(frozen, first), _set_in(frozen, second)
    manifest = _rewrite(paths, set_id=(lambda m: m["set_id"] == other, one))  # one car

    after = split(SplitConfig(), 0, paths).set_index("id")
    members = manifest.loc[manifest["set_id"] == one, "id"]
    assert set(before[members]) == {first, second}
    assert set(after.loc[members, "split"]) == {merged}
    assert set(after.loc[members, "set_id"]) == {one}
    untouched = before.index.difference(members)
    assert after.loc[untouched, "split"].equals(before[untouched]), "the rest stays frozen"


def test_a_set_split_apart_or_renamed_keeps_its_split(paths: Paths) -> None:
    before = _frozen(paths)
    test_set = _set_in(before, "test")
    image = before.loc[before["set_id"] == test_set, "id"].iloc[0]
    _rewrite(paths, set_id=(lambda m: m["id"] == image, "on-its-own"))
    after = split(SplitConfig(), 0, paths).set_index("id")
    assert after.at[image, "split"] == "test"
    assert after.at[image, "set_id"] == "on-its-own"


def test_test_labels_changed_since_the_split_are_counted_and_the_split_file_kept(
    paths: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _frozen(paths)
    written = paths.splits.read_bytes()
    test_ids = before.loc[before["split"] == "test", "id"].head(2).tolist()
    train_id = before.loc[before["split"] == "train", "id"].iloc[0]
    manifest = _rewrite(paths, label=(lambda m: m["id"].isin([*test_ids, train_id]), "oval"))
    changed = int((manifest.set_index("id").loc[test_ids, "label"] !=
                   before.set_index("id").loc[test_ids, "label"]).sum())
    capsys.readouterr()

    after = split(SplitConfig(), 0, paths)

    assert count_test_labels_changed(manifest, after) == changed > 0
    assert f"{changed} test labels changed since the test split was frozen" in (
        capsys.readouterr().out)
    assert paths.splits.read_bytes() == written, "labels move no image"


def test_a_label_change_within_one_family_keeps_the_other_families_caches(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    for i in range(24):
        folder.add(f"{i}.png", ["circle", "oval", "square"][i % 3], image_bytes(60 + i),
                   set_id=f"s{i // 2}")
    ingest(folder.source(), taxonomy, paths)
    split(SplitConfig(), 0, paths)
    build_cache(taxonomy, SIZES, paths)
    angular = folder_bytes(paths, "angular")
    relabel(folder, "0.png", label="oval", label_source="expert")  # circle -> oval: round
    ingest(folder.source(), taxonomy, paths)
    split(SplitConfig(), 0, paths)

    result = build_cache(taxonomy, SIZES, paths)

    assert "round" in result.rebuilt
    assert "angular" in result.kept and folder_bytes(paths, "angular") == angular
    assert set(result.rebuilt) <= {"shape", "round", STACK}


def test_precedence_ranks_unlisted_sources_last_and_refuses_a_repeat() -> None:
    precedence = Precedence()
    assert precedence.overrules("expert", "crowd") and precedence.overrules("import", "import")
    assert not precedence.overrules("crowd", "expert")
    assert not precedence.overrules("model", "import")
    with pytest.raises(ConfigError, match=r"label_precedence: crowd listed more than once"):
        Precedence.from_config(DataConfig(label_precedence=["crowd", "expert", "crowd"]))


@pytest.fixture
def corrected_project(project: Path, folder: SourceFolder, taxonomy: Taxonomy) -> Paths:
    paths = Paths(project)
    folder.add("cars/a.png", "circle", image_bytes(1), label_source="crowd")
    folder.add("cars/b.png", "circle", image_bytes(2))
    ingest(folder.source(), taxonomy, paths)
    for label, label_source in (("oval", "expert"), ("square", "import")):
        relabel(folder, "cars/a.png", label=label, label_source=label_source)
        ingest(folder.source(), taxonomy, paths)
    return paths


def test_label_history_prints_every_value_oldest_first(
    corrected_project: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    image_id = recorded(corrected_project, "cars/a.png")["id"]
    for query in ("cars/a.png", image_id[:8], "/elsewhere/incoming/cars/a.png"):
        assert main(["label", "history", query]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"{image_id}  cars/a.png")
        assert "first recorded: label circle, " in out and "(crowd)" in out
        first, second = out.index("label circle -> oval"), out.index("label oval -> square")
        assert first < second
        assert "applied (expert over crowd" in out and "overruled (import under expert" in out


def test_label_history_names_what_it_searched_when_nothing_matches(
    corrected_project: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["label", "history", "nosuch.png"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("taxonomist label: error: no image in data/manifest.parquet "
                          "(2 images) has the id, an id starting with, the path or the "
                          "stored path 'nosuch.png'")
