"""`taxonomist label import` with a live stack: the stack heard on the images it did not
train on, with the probabilities it serves; without one, the workers alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from taxonomist.cli import main
from taxonomist.labels.batch import Pick, export_batch
from taxonomist.stack.decoding import leaf_probabilities
from taxonomist.stack.predictor import StackPredictor
from tests.labels.conftest import TTL_S, DigitsProject, mturk_results
from tests.serve.stacks import Registry

# image -> its split (absent: not split yet); the stack trained on the train ones
SPLITS = {0: "train", 1: "train", 2: "train", 3: "val", 4: "test", 5: "val"}
HELD_OUT = (3, 4, 5, 6, 7)


def answered(project: DigitsProject) -> tuple[list[str], Path]:
    """The images ingested as the stack guesses them, split by :data:`SPLITS`, exported
    as one batch of the root, and a results file of three workers who agree."""
    ids = project.ingest([g.label for g in project.guesses])
    project.write_splits([ids[i] for i in SPLITS], list(SPLITS.values()))
    taxonomy = project.config.taxonomy
    batch = export_batch(pd.read_parquet(project.paths.manifest), taxonomy.root, len(ids),
                         Pick.random, taxonomy, project.folder.source(),
                         project.paths.label_batches, TTL_S, seed=0)
    answers = [(image, f"w{w}", guess.label) for image, guess in zip(ids, project.guesses,
                                                                      strict=True)
               for w in (1, 2, 3)]
    return ids, mturk_results(project.paths.root.parent / "results.csv", batch, answers)


def label_import(project: DigitsProject, file: Path) -> int:
    return main(["--config-dir", str(project.conf), "label", "import", str(file)])


def crowd_csv(project: DigitsProject) -> pd.DataFrame:
    return pd.read_csv(project.paths.labels / "crowd.csv", dtype=str,
                       keep_default_na=False).set_index("id")


def test_the_stack_is_heard_on_held_out_images_with_its_served_probabilities(
    live_digits: DigitsProject, live_predictor: StackPredictor, live_registry: Registry,
    capsys
) -> None:
    ids, results = answered(live_digits)
    assert label_import(live_digits, results) == 0, capsys.readouterr().err
    crowd = crowd_csv(live_digits)
    heard = crowd.index[crowd["model_label"] != ""]
    assert set(heard) == {ids[i] for i in HELD_OUT}  # never the train images
    taxonomy = live_predictor.taxonomy
    oracle = leaf_probabilities(taxonomy, live_predictor.node_outputs(live_digits.images, True))
    for i in HELD_OUT:
        row = crowd.loc[ids[i]]
        assert row["model_label"] == taxonomy.leaves[oracle[i].argmax()]
        assert float(row["model_probability"]) == np.round(oracle[i].max(), 3)
        assert 0 <= float(row["model_weight"]) <= 1
    stack = f"{live_registry.name} v{live_registry.versions[0]} (@live)"
    workers = pd.read_csv(live_digits.paths.crowd_workers).set_index("worker")
    assert workers.loc[stack, "answers"] == len(HELD_OUT)
    assert f"{stack} heard on {len(HELD_OUT)} images held out" in capsys.readouterr().out


def test_a_stored_image_the_stack_cannot_read_refuses_the_import_writing_nothing(
    live_digits: DigitsProject, capsys
) -> None:
    ids, results = answered(live_digits)
    manifest = pd.read_parquet(live_digits.paths.manifest).set_index("id")
    stored = live_digits.paths.root / manifest.loc[ids[HELD_OUT[0]], "stored"]
    stored.unlink()
    assert label_import(live_digits, results) == 2
    assert f"{stored}: stored image is missing" in capsys.readouterr().err
    assert not (live_digits.paths.labels / "crowd.csv").exists()
    assert not live_digits.paths.crowd_answers.exists()


def test_without_a_live_stack_the_workers_alone_decide(unserved_digits: DigitsProject,
                                                       capsys) -> None:
    ids, results = answered(unserved_digits)
    assert label_import(unserved_digits, results) == 0, capsys.readouterr().err
    crowd = crowd_csv(unserved_digits)
    assert len(crowd) == len(ids) and crowd["model_label"].eq("").all()
    assert crowd["model_weight"].eq("").all()
    workers = pd.read_csv(unserved_digits.paths.crowd_workers)
    assert set(workers["worker"]) == {"w1", "w2", "w3"}


def test_a_crowd_csv_written_before_the_stack_was_heard_still_reads(
    live_digits: DigitsProject, capsys
) -> None:
    ids, results = answered(live_digits)
    older = live_digits.paths.labels / "crowd.csv"
    older.parent.mkdir(parents=True, exist_ok=True)
    older.write_text("id,path,label,label_workers,label_agreement,origin,confidence\n"
                     "abc,x.png,one,3,1.0,old.csv (batch b),0.9\n")
    assert label_import(live_digits, results) == 0, capsys.readouterr().err
    crowd = crowd_csv(live_digits)
    assert crowd.loc["abc", "label"] == "one" and crowd.loc["abc", "model_label"] == ""
    assert len(crowd) == len(ids) + 1
