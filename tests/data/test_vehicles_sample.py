"""The vehicle sample: 35 classifiers' worth of drawn cars, deterministic, learnable,
chosen by one switch (``+experiment=vehicles``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from sklearn.linear_model import LogisticRegression

from taxonomist.cli import main
from taxonomist.config import compose_config
from taxonomist.config.schema import DataConfig, SampleKind
from taxonomist.data import write_sample
from taxonomist.errors import DataError
from taxonomist.taxonomy import Taxonomy
from tests.conftest import REPO

SMALL = DataConfig(sample=SampleKind.vehicles, per_class=2)


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.*")}


@pytest.fixture(scope="module")
def vehicles() -> Taxonomy:
    tree = yaml.safe_load((REPO / "conf" / "taxonomy" / "vehicles.yaml").read_text())
    return Taxonomy.from_tree(tree["name"], tree["tree"])


@pytest.fixture(scope="module")
def drawn(vehicles: Taxonomy, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("vehicles")
    write_sample(SMALL, 0, folder, vehicles)
    return folder


def test_the_taxonomy_has_35_classifiers_on_four_levels_mixing_leaves_and_nodes(
    vehicles: Taxonomy,
) -> None:
    assert len(vehicles.inner_nodes) == 35 and len(vehicles.leaves) == 69
    assert vehicles.path("arca_sedan_duo") == ["image", "car", "arca", "arca_sedan",
                                               "arca_sedan_duo"]
    mixed = [n for n in vehicles.inner_nodes
             if {bool(vehicles.children[c]) for c in vehicles.children[n]} == {True, False}]
    assert "image" in mixed and len(mixed) == 9  # the root and every make


def test_every_leaf_is_drawn_in_sets_of_two_or_three_views(
    drawn: Path, vehicles: Taxonomy
) -> None:
    manifest = pd.read_csv(drawn / "manifest.csv", dtype=str)
    assert sorted(set(manifest["label"])) == sorted(vehicles.leaves)
    sets = manifest.groupby("set_id")
    assert sets.size().between(2, 3).all()
    assert (sets[["label", "source", "taken_at"]].nunique() == 1).all().all()
    per_label = manifest.groupby("label")["set_id"].nunique()
    assert per_label.drop("not_a_car").eq(2).all() and per_label["not_a_car"] == 20
    assert manifest["source"].nunique() >= 4
    assert pd.to_datetime(manifest["taken_at"]).dt.month.nunique() >= 4
    with Image.open(drawn / manifest["path"][0]) as image:
        assert (image.size, image.mode) == ((64, 64), "RGB")


def test_same_seed_gives_byte_identical_files(
    drawn: Path, vehicles: Taxonomy, tmp_path: Path
) -> None:
    write_sample(SMALL, 0, tmp_path / "again", vehicles)
    write_sample(SMALL, 1, tmp_path / "other", vehicles)
    assert files(tmp_path / "again") == files(drawn)
    other = files(tmp_path / "other")
    assert sum(other.get(path) != data for path, data in files(drawn).items()) > 300


def test_makes_can_be_told_apart_at_8_px_by_a_linear_model(
    vehicles: Taxonomy, tmp_path: Path
) -> None:
    """Learnable, not trivially: the simplest model on 8 px pixels reads the make of
    unseen cars at ~0.59 (chance 0.125; measured), the network has the rest to learn."""
    write_sample(DataConfig(sample=SampleKind.vehicles, per_class=4), 0, tmp_path, vehicles)
    cars = pd.read_csv(tmp_path / "manifest.csv", dtype=str).query("label != 'not_a_car'")
    x = np.stack([np.asarray(Image.open(tmp_path / p).resize((8, 8))) for p in cars["path"]])
    x = x.reshape(len(x), -1) / 255.0
    make = [vehicles.path(label)[2] for label in cars["label"]]
    held_out = cars["set_id"].str[-1].isin(["0", "1"]).to_numpy()  # whole sets
    model = LogisticRegression(max_iter=2000).fit(x[~held_out], np.array(make)[~held_out])
    assert model.score(x[held_out], np.array(make)[held_out]) > 0.4


def test_a_tree_of_another_shape_is_refused_naming_the_file(tmp_path: Path) -> None:
    flat = Taxonomy.from_tree("flat", {"thing": ["a", "b"]}, "conf/taxonomy/flat.yaml")
    with pytest.raises(DataError, match=r"conf/taxonomy/flat\.yaml: .*exactly one inner child"):
        write_sample(SMALL, 0, tmp_path, flat)


def test_one_switch_selects_the_sample_and_it_is_recorded(project: Path) -> None:
    assert main(["pipeline", "+experiment=vehicles"]) == 0
    assert "+experiment=vehicles" in (project / "conf" / "overrides.yaml").read_text()
    config = compose_config()  # what every later command composes, recorded override applied
    assert config.taxonomy.name == "vehicles" and len(config.classifiers) == 35
    assert config.project.data.sample is SampleKind.vehicles
    assert config.project.mlflow.experiment == "vehicles"
    assert config.classifiers["arca_sedan"].image_size == 32  # its own classifier defaults
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["data"]["root"] == "data/vehicles"


def test_without_the_switch_the_digits_stay_the_default(project: Path) -> None:
    config = compose_config()
    assert config.taxonomy.name == "digits" and config.project.data.sample is SampleKind.digits
