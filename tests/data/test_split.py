"""Split: grouped by set, stratified by label, deterministic, and frozen once made."""

from __future__ import annotations

import pandas as pd
import pytest

from taxonomist.config import Paths, SplitConfig
from taxonomist.data import ingest, split
from taxonomist.errors import ConfigError, DataError
from taxonomist.taxonomy import Taxonomy
from tests.data.conftest import SourceFolder, image_bytes

LABELS = ("circle", "oval", "square")


def write_manifest(paths: Paths, sets_per_label: int, first: int = 0) -> pd.DataFrame:
    """A manifest of sets of 1-3 images each, appended to any that exists."""
    rows = [
        {"id": f"{label}-{s}-{v}", "set_id": f"{label}-{s}", "label": label}
        for label in LABELS
        for s in range(first, first + sets_per_label)
        for v in range(1 + s % 3)
    ]
    manifest = pd.DataFrame(rows)
    if paths.manifest.is_file():
        manifest = pd.concat([pd.read_parquet(paths.manifest), manifest], ignore_index=True)
    paths.manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.to_parquet(paths.manifest, index=False)
    return manifest


def set_split(splits: pd.DataFrame) -> pd.Series:
    return splits.groupby("set_id")["split"].agg(lambda s: "+".join(sorted(set(s))))


def test_no_set_is_in_two_splits_and_labels_are_stratified(paths: Paths) -> None:
    write_manifest(paths, sets_per_label=60)

    splits = split(SplitConfig(val=0.15, test=0.2), 0, paths)

    assert set(set_split(splits)) == {"train", "val", "test"}
    sets = splits.drop_duplicates("set_id")
    share = pd.crosstab(sets["label"], sets["split"], normalize="index")
    assert share["test"].between(0.15, 0.25).all(), share
    assert share["val"].between(0.1, 0.2).all(), share
    assert pd.read_parquet(paths.splits).equals(splits)


def test_same_seed_same_split_and_another_seed_another(paths: Paths) -> None:
    write_manifest(paths, sets_per_label=30)
    first = split(SplitConfig(), 1, paths)
    paths.splits.unlink()
    again = split(SplitConfig(), 1, paths)
    paths.splits.unlink()
    other = split(SplitConfig(), 2, paths)
    assert first.equals(again)
    assert not first["split"].equals(other["split"])


def test_existing_split_is_frozen_when_images_are_added(
    folder: SourceFolder, taxonomy: Taxonomy, paths: Paths
) -> None:
    for s in range(24):
        for view in range(2):
            label = ["circle", "square"][s % 2]
            folder.add(f"{s}-{view}.png", label, image_bytes(100 * s + view), set_id=f"set{s}")
    ingest(folder.source(), taxonomy, paths)
    before = split(SplitConfig(), 0, paths).set_index("id")["split"]
    for s in range(18, 36):  # six more views of known sets, 12 new sets
        folder.add(f"{s}-new.png", ["circle", "square"][s % 2], image_bytes(100 * s + 9),
                   set_id=f"set{s}")
    ingest(folder.source(), taxonomy, paths)

    after = split(SplitConfig(val=0.3, test=0.3), 99, paths).set_index("id")["split"]

    assert after[before.index].equals(before), "no old image moved"
    set_of = pd.read_parquet(paths.manifest).set_index("id")["set_id"]
    assert after.groupby(set_of[after.index]).nunique().eq(1).all(), "known sets stay whole"
    assert len(after) == len(before) + 18
    assert "test" in set(after.drop(before.index)), "the new sets were split too"


def test_rerun_without_new_images_leaves_the_file_alone(paths: Paths) -> None:
    write_manifest(paths, sets_per_label=10)
    split(SplitConfig(), 0, paths)
    written = paths.splits.stat().st_mtime_ns
    split(SplitConfig(), 0, paths)
    assert paths.splits.stat().st_mtime_ns == written


def test_prints_counts_per_split(paths: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    write_manifest(paths, sets_per_label=20)
    splits = split(SplitConfig(), 0, paths)
    counts = splits["split"].value_counts()
    assert f"train {counts['train']} images" in capsys.readouterr().out


def test_a_single_new_set_goes_to_train(paths: Paths) -> None:
    write_manifest(paths, sets_per_label=10)
    split(SplitConfig(), 0, paths)
    pd.DataFrame({"id": ["solo-0"], "set_id": ["solo"], "label": ["oval"]}).pipe(
        lambda solo: pd.concat([pd.read_parquet(paths.manifest), solo])
    ).to_parquet(paths.manifest)
    assert split(SplitConfig(), 0, paths).set_index("id").at["solo-0", "split"] == "train"


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        (SplitConfig(val=0.1, test=1.0), r"split\.test: expected a fraction of sets in \[0, 1\)"),
        (SplitConfig(val=-0.1, test=0.2), r"split\.val: expected a fraction"),
        (SplitConfig(val=0.5, test=0.5), "val \\+ test is 1, which leaves no sets to train on"),
    ],
)
def test_fractions_must_leave_something_to_train_on(
    cfg: SplitConfig, message: str, paths: Paths
) -> None:
    with pytest.raises(ConfigError, match=message):
        split(cfg, 0, paths)


def test_tampered_split_file_is_refused(paths: Paths) -> None:
    write_manifest(paths, sets_per_label=10)
    splits = split(SplitConfig(), 0, paths)
    rows = splits.index[splits["set_id"] == "circle-2"]  # a set of three images
    splits.loc[rows, "split"] = ["train", "test", "train"]
    splits.to_parquet(paths.splits)
    with pytest.raises(DataError, match="set 'circle-2' is in more than one split"):
        split(SplitConfig(), 0, paths)


def test_missing_manifest_says_to_ingest(paths: Paths) -> None:
    with pytest.raises(DataError, match=r"manifest\.parquet: no manifest yet; run `taxonomist in"):
        split(SplitConfig(), 0, paths)
