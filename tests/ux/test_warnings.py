"""What `taxonomist validate` warns about: nothing on the bundled sample as configured,
one line for warnings alike, and hints that name files a person can open (or create)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from taxonomist.checks.coverage import class_counts
from taxonomist.checks.verdict import sort_messages
from taxonomist.config import compose_config
from taxonomist.data import write_sample
from tests.conftest import REPO


def test_the_bundled_sample_has_the_recommended_images_of_every_class(tmp_path: Path):
    config = compose_config(REPO / "conf")
    write_sample(config.project.data, config.project.seed, tmp_path)
    manifest = pd.read_csv(tmp_path / config.project.data.manifest)
    short = [
        f"{row.node}/{row['class']}: {row['count']}"
        for _, row in class_counts(manifest, config.taxonomy).iterrows()
        if row["count"] < config.classifiers[row.node].recommended_images
    ]
    assert short == [], "the sample warns out of the box: lower recommended_images"


def _below_recommended(*rows: tuple[str, str, int]):
    """A failed recommended_images result of great-expectations, as the runner gets it."""
    index = [{"node": n, "class": c, "count": str(k), "recommended_images": "50"}
             for n, c, k in rows]
    config = SimpleNamespace(type="expect_column_pair_values_a_to_be_greater_than_b",
                             kwargs={}, meta={"check": "recommended_images"}, severity="warning")
    return SimpleNamespace(success=False, expectation_config=config,
                           result={"unexpected_index_list": index},
                           exception_info={"raised_exception": False})


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    """A conf/ where only the node 'round' has a file of its own."""
    (tmp_path / "classifiers").mkdir()
    (tmp_path / "classifiers" / "round.yaml").write_text("epochs: 8\n")
    return tmp_path


def test_warnings_alike_are_one_line_naming_every_class(conf: Path):
    result = _below_recommended(("round", "circle", 12), ("round", "oval", 30),
                                ("angular", "square", 9))
    errors, warnings = sort_messages([result], conf)
    assert errors == [] and len(warnings) == 1
    assert warnings[0].startswith(
        "the same for 3 classes (round: circle, oval; angular: square), e.g. node 'round', "
        "class 'circle': 12 images, fewer than recommended_images 50"
    )


def test_a_warning_unlike_the_others_keeps_its_own_line(conf: Path):
    alike = _below_recommended(("round", "circle", 12), ("round", "oval", 30))
    other = _below_recommended(("angular", "square", 9))
    other.expectation_config.meta = {"check": "dominant"}
    other.result = {"unexpected_index_list": [
        {"node": "angular", "class": "square", "of": "source", "value": "a", "share": "0.95",
         "node_share": "0.5", "limit": "0.9"}]}
    _, warnings = sort_messages([alike, other], conf)
    assert len(warnings) == 2 and "the same for 2 classes (round: circle, oval)" in warnings[0]


@pytest.mark.parametrize("folder", ["classifiers", "classifiers/cars"])  # classifier_dir
@pytest.mark.parametrize("node, exists", [("round", True), ("angular", False)])
def test_a_hint_names_a_file_that_exists_or_says_to_create_it(tmp_path: Path, folder, node,
                                                              exists):
    (tmp_path / folder).mkdir(parents=True)
    (tmp_path / folder / "round.yaml").write_text("epochs: 8\n")
    if folder != "classifiers":  # a file in the folder the project does not read
        (tmp_path / "classifiers" / "angular.yaml").write_text("epochs: 8\n")
    hint = f"lower recommended_images in conf/{folder}/{node}.yaml"
    if not exists:
        hint += (" (no such file yet: create it for this node alone, or edit "
                 f"conf/{folder}/_default.yaml for every node)")
    _, (warning,) = sort_messages([_below_recommended((node, "circle", 12))], tmp_path, folder)
    assert warning.endswith(hint)
