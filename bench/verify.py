"""An independent check of the stack's published number: recompute it from the registry.

    python -m bench.verify                          # the version `stack` registered
    python -m bench.verify --model models:/digits.stack@live

``metrics/stack.json`` (what ``dvc metrics show``, the docs and the model card publish)
is computed by the stack stage with :mod:`taxonomist.evaluate` on the decoded cache. This
script recomputes leaf accuracy with none of that: it loads the registered stack back from
MLflow exactly as it is served (``mlflow.pyfunc.load_model``), sends it the stored image
files of the frozen test split (``data/splits.parquet`` joined to ``data/manifest.parquet``)
as base64, and counts the answers that are the image's leaf with numpy. It exits 1, with
both numbers, when they differ (the published figure is rounded to 4 digits). Writes
``bench/results/verify.json`` (table ``accuracy``).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from bench.record import BenchRun, Figure, Table, add_results_option
from taxonomist.config import compose_config, resolve_tracking_uri
from taxonomist.config.paths import Paths
from taxonomist.tracking.client import tracking_at


def leaf_test_rows(paths: Paths, leaves: list[str]) -> pd.DataFrame:
    """The test split's leaf-labelled rows (``label``, ``stored``), from the split and
    the manifest alone."""
    splits = pd.read_parquet(paths.splits, columns=["id", "split"])
    manifest = pd.read_parquet(paths.manifest, columns=["id", "label", "stored"])
    test = splits[splits["split"] == "test"].merge(manifest, on="id", validate="one_to_one")
    return test[test["label"].isin(leaves)].reset_index(drop=True)


def served_answers(model_uri: str, root: Path, stored: pd.Series) -> np.ndarray:
    """The deepest class the served stack answers for each stored file (None: the root)."""
    model = mlflow.pyfunc.load_model(model_uri)
    images = [base64.b64encode((root / path).read_bytes()).decode("ascii") for path in stored]
    return model.predict(pd.DataFrame({"image": images}))["label"].to_numpy(dtype=object)


def leaf_accuracy(labels: np.ndarray, answers: np.ndarray) -> float:
    """The share of answers that are the label: a walk that stopped early is wrong."""
    return float(np.mean(np.asarray(labels, dtype=object) == np.asarray(answers, dtype=object)))


def registered_uri(paths: Paths) -> str:
    """``models:/<name>/<version>`` of the stack the last ``stack`` stage registered."""
    registered = json.loads((paths.stack_dir / "registered.json").read_text())
    return f"models:/{registered['name']}/{registered['version']}"


def accuracy_table(uri: str, recomputed: float, published: float, images: int,
                   published_in: str) -> Table:
    """The recomputed leaf accuracy beside the published one."""
    agree = "the same" if round(recomputed, 4) == published else "MISMATCH"
    return Table("accuracy", ("leaf accuracy", "value", "test images"), [
        (f"recomputed from `{uri}` as served", Figure(recomputed, "", digits=4),
         Figure(images, "", digits=0)),
        (f"published in `{published_in}` ({agree})", Figure(published, "", digits=4), None),
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="the project root")
    parser.add_argument("--model", help="a models:/ URI (default: the version just registered)")
    add_results_option(parser)
    args = parser.parse_args(argv)
    run = BenchRun.start("verify", args.results_dir, args)
    paths = Paths(args.root.resolve())
    config = compose_config(paths.conf)
    uri = args.model or registered_uri(paths)
    test = leaf_test_rows(paths, config.taxonomy.leaves)
    try:
        with tracking_at(resolve_tracking_uri(config.project.mlflow.tracking_uri, paths)):
            answers = served_answers(uri, paths.root, test["stored"])
    except MlflowException as err:
        print(f"cannot load {uri} from the registry: {err.message}; name a version that "
              "exists (--model models:/NAME/VERSION), or run `dvc repro stack`", file=sys.stderr)
        return 2
    recomputed = leaf_accuracy(test["label"].to_numpy(), answers)
    published = json.loads(paths.stack_metrics.read_text())["leaf_accuracy"]
    print(f"{uri}: leaf accuracy {recomputed:.4f} on {len(test)} test images from the "
          f"registry; {paths.stack_metrics.name} publishes {published:.4f}")
    published_in = paths.stack_metrics.relative_to(paths.root).as_posix()
    run.write([accuracy_table(uri, recomputed, published, len(test), published_in)])
    if round(recomputed, 4) != published:
        print("MISMATCH: the published leaf accuracy is not what the registered stack "
              "scores", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
