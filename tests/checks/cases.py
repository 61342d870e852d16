"""Every manifest (+ splits) the validate tests run, by name; each is validated once."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import NamedTuple

import pandas as pd

from taxonomist.config.schema import ClassifierConfig
from tests.checks.shapes import (
    BALANCED,
    CLASSIFIERS,
    GOOD,
    all_train,
    make_dataset,
    make_manifest,
    near,
)


class Case(NamedTuple):
    manifest: pd.DataFrame
    splits: pd.DataFrame
    rejects: pd.DataFrame | None = None
    classifiers: Mapping[str, ClassifierConfig] = CLASSIFIERS


def _train_only(manifest: pd.DataFrame) -> Case:
    return Case(manifest, all_train(manifest))


def _bad_rows() -> Case:
    manifest = make_manifest({**GOOD, "hexagon": 2})
    manifest.loc[1, "id"] = manifest.loc[0, "id"]  # images/000.png and images/001.png
    manifest.loc[2, "id"] = None  # images/002.png
    manifest.loc[3, "label"] = ""  # images/003.png; ingest writes a missing label as ""
    return _train_only(manifest)


def _with(images_per_split: Mapping[str, Mapping[str, int]] = BALANCED, **changes) -> Case:
    """The balanced dataset, then ``changes``: {row: {column: value}} on the manifest."""
    manifest, splits = make_dataset(images_per_split)
    for row, values in changes.get("rows", {}).items():
        for column, value in values.items():
            manifest.loc[row, column] = value
            if column in splits.columns:
                splits.loc[row, column] = value
    return Case(manifest, splits)


# In make_dataset(BALANCED): rows 0-23 are train (0-5 circle, 6-11 oval, 12-17 square,
# 18-23 triangle), 24-35 val, 36-47 test (36-38 circle, 39-41 oval, ...).
def _set_leak() -> Case:
    return _with(rows={36: {"set_id": "set0"}})  # test image 36 joins train image 0's set


def _near_duplicate_leak() -> Case:
    manifest, splits = make_dataset()
    manifest.loc[37, "phash"] = near(manifest.loc[1, "phash"], 2)  # test ~ train
    return Case(manifest, splits)


def _near_duplicates_in_train() -> Case:
    manifest, splits = make_dataset()
    manifest.loc[3, "phash"] = near(manifest.loc[2, "phash"], 1)
    manifest.loc[4, "phash"] = manifest.loc[2, "phash"]
    manifest.loc[5, "set_id"] = splits.loc[5, "set_id"] = "set2"  # same set: not reported
    manifest.loc[5, "phash"] = manifest.loc[2, "phash"]
    return Case(manifest, splits)


def _source_bias() -> Case:
    manifest, splits = make_dataset()
    manifest.loc[manifest["label"] == "triangle", "source"] = "c"
    return Case(manifest, splits)


def _divergent(fail_round: bool) -> Callable[[], Case]:
    def make() -> Case:
        test = {"circle": 12, "oval": 3, "square": 3, "triangle": 3}
        case = _with({**BALANCED, "test": test})
        round_ = dataclasses.replace(CLASSIFIERS["round"], fail_on_divergence=fail_round)
        return case._replace(classifiers={**CLASSIFIERS, "round": round_})

    return make


def _label_conflicts() -> Case:
    manifest, splits = make_dataset()
    manifest.loc[1, "id"] = manifest.loc[0, "id"]
    manifest.loc[1, "label"] = "oval"
    rejects = pd.DataFrame(
        {
            "path": ["in/x.png", "in/y.png"],
            "label": ["square", "circle"],
            "reason": [
                "same bytes as 'in/w.png', which is labelled 'triangle', but this row says "
                "'square'; decide on one label and fix the other row",
                "no such file",
            ],
            "kind": ["label_conflict", "missing"],
        }
    )
    return Case(manifest, splits, rejects)


def _bad_boxes() -> Case:
    manifest, splits = make_dataset()
    boxes = {"bbox_x0": 1, "bbox_y0": 1, "bbox_x1": 4, "bbox_y1": 4}
    manifest = manifest.assign(**{k: pd.array([pd.NA] * len(manifest), "Int64") for k in boxes})
    for row in (0, 1, 2):
        for key, value in boxes.items():
            manifest.loc[row, key] = value
    manifest.loc[1, "bbox_x1"] = 0  # x1 < x0
    manifest.loc[2, "bbox_y1"] = 9  # beyond the 8 px height
    return Case(manifest, splits)


def _no_phash() -> Case:
    manifest, splits = make_dataset()
    return Case(manifest.drop(columns=["phash", "label_source"]), splits)


def _not_split() -> Case:
    manifest, splits = make_dataset()
    return Case(manifest, splits.drop(index=[40, 41]))


CASES: dict[str, Callable[[], Case]] = {
    "good": lambda: _train_only(make_manifest(GOOD)),
    "too_few": lambda: _train_only(make_manifest({**GOOD, "circle": 2})),
    "zero": lambda: _train_only(make_manifest({**GOOD, "triangle": 0})),
    "unbalanced": lambda: _train_only(make_manifest({**GOOD, "triangle": 20})),
    "below_recommended": lambda: _train_only(make_manifest({**GOOD, "oval": 4})),
    "bad_rows": _bad_rows,
    "missing_columns": lambda: _train_only(make_manifest(GOOD).drop(columns=["label", "width"])),
    "balanced": _with,
    "short_in_test": lambda: _with({**BALANCED, "test": {**BALANCED["test"], "oval": 1}}),
    "set_leak": _set_leak,
    "near_duplicate_leak": _near_duplicate_leak,
    "near_duplicates_in_train": _near_duplicates_in_train,
    "source_bias": _source_bias,
    "divergent": _divergent(fail_round=False),
    "divergent_fails": _divergent(fail_round=True),
    "label_conflicts": _label_conflicts,
    "bad_boxes": _bad_boxes,
    "no_phash": _no_phash,
    "not_split": _not_split,
}
