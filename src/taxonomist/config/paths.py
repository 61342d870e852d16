"""Where every stage reads and writes, relative to the project root, and where that is."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from taxonomist.config.compose import CONFIG_DIR_ENV
from taxonomist.errors import ConfigError

PROJECT_FILE = Path("conf") / "config.yaml"  # what makes a folder a taxonomist project


@dataclass(frozen=True)
class Paths:
    """The project's file layout. Stages take one of these rather than building paths.

    Example:
        >>> Paths(Path("/repo")).model_dir("round")
        PosixPath('/repo/models/round')
    """

    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "conf"

    def classifier_file(self, node: str, classifier_dir: str = "classifiers") -> Path:
        """A node's own definition, ``conf/<classifier_dir>/<node>.yaml`` (may not exist)."""
        return self.conf / classifier_dir / f"{node}.yaml"

    def classifier_source(self, node: str, classifier_dir: str = "classifiers") -> str:
        """The file to name in a node's config errors: its own YAML, else the defaults."""
        own = self.classifier_file(node, classifier_dir)
        return f"conf/{classifier_dir}/{own.name if own.exists() else '_default.yaml'}"

    @property
    def params(self) -> Path:
        return self.root / "params.yaml"

    @property
    def node_params_dir(self) -> Path:
        return self.root / "params"

    def node_params(self, node: str) -> Path:
        """``params/<node>.json``: one node's params, apart so DVC reads only its own."""
        return self.node_params_dir / f"{node}.json"

    @property
    def dvc_yaml(self) -> Path:
        return self.root / "dvc.yaml"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def images(self) -> Path:
        return self.data / "images"

    @property
    def manifest(self) -> Path:
        return self.data / "manifest.parquet"

    @property
    def rejects(self) -> Path:
        return self.data / "rejects.csv"

    @property
    def label_history(self) -> Path:
        """Every earlier label and metadata value of an image, one row per change."""
        return self.data / "label_history.parquet"

    @property
    def labels(self) -> Path:
        """What the crowd and the expert decided (git-tracked, read by ingest), and the
        batches sent out for labelling (``labels/batches/``)."""
        return self.root / "labels"

    @property
    def label_batches(self) -> Path:
        return self.labels / "batches"

    @property
    def crowd_answers(self) -> Path:
        """Every answer every worker gave, one row each, as imported."""
        return self.labels / "answers.csv"

    @property
    def crowd_workers(self) -> Path:
        """Each worker's estimated quality per node, from the last import that had them."""
        return self.labels / "workers.csv"

    @property
    def detections(self) -> Path:
        """The detect stage's box, score and detector per image (joined onto the manifest
        by :func:`taxonomist.contracts.detections.with_detections`)."""
        return self.data / "detections.parquet"

    @property
    def detect_review(self) -> Path:
        """Images the detector found no box in, held out of the splits until reviewed."""
        return self.reports / "detect" / "review.csv"

    @property
    def splits(self) -> Path:
        return self.data / "splits.parquet"

    @property
    def cache(self) -> Path:
        return self.data / "cache"

    @property
    def validation(self) -> Path:
        return self.root / "reports" / "data" / "validation.json"

    @property
    def data_docs(self) -> Path:
        """great-expectations' Data Docs site, built by the validate stage."""
        return self.validation.parent / "docs"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def label_queue(self) -> Path:
        """The expert's dashboard, ``taxonomist label queue``'s page."""
        return self.reports / "labels" / "queue.html"

    @property
    def label_queue_thumbnails(self) -> Path:
        """The page's thumbnails, beside it, linked relatively so it works as a file."""
        return self.label_queue.with_name("queue_files")

    @property
    def label_decisions(self) -> Path:
        """The queue's decisions CSV, prefilled for ``taxonomist label apply``."""
        return self.label_queue.with_name("decisions.csv")

    @property
    def promotion(self) -> Path:
        return self.reports / "promotion.json"

    @property
    def model_card(self) -> Path:
        return self.reports / "model_card.html"

    @property
    def stack_dir(self) -> Path:
        return self.root / "models" / "_stack"

    @property
    def stack_metrics(self) -> Path:
        return self.root / "metrics" / "stack.json"

    @property
    def mlflow_dir(self) -> Path:
        return self.root / "mlflow"

    def model_dir(self, node: str) -> Path:
        return self.root / "models" / node

    def node_metrics(self, node: str) -> Path:
        return self.root / "metrics" / f"{node}.json"

    def node_plots(self, node: str) -> Path:
        return self.root / "plots" / node


def resolve_tracking_uri(tracking_uri: str | None, paths: Paths) -> str:
    """The MLflow tracking URI: the config's, else $MLFLOW_TRACKING_URI, else local sqlite."""
    return (
        tracking_uri
        or os.environ.get("MLFLOW_TRACKING_URI")
        or f"sqlite:///{(paths.mlflow_dir / 'mlflow.db').resolve()}"
    )


def find_project_root(config_dir: str | Path | None = None, start: Path | None = None) -> Path:
    """The project root, found as git and dvc find theirs: walking up to the folder that
    holds ``conf/config.yaml``.

    The walk starts at the config folder when one is given (``--config-dir``, else
    ``$TAXONOMIST_CONFIG_DIR``), so ``--config-dir /repo/conf`` means the project
    ``/repo`` from any folder; else at ``start`` (the working directory), so a command
    run in ``/repo/reports`` works on ``/repo``. Nothing is ever created where no
    project is: the MLflow store, reports and data all sit under the root found.

    A config folder outside any project (``--config-dir /tmp/experiment``) makes its
    parent the root, where its outputs go.

    Raises:
        ConfigError: no project holds the working directory; says what to pass instead.
    """
    chosen = config_dir or os.environ.get(CONFIG_DIR_ENV)
    if chosen:
        conf = Path(chosen).resolve()
        return _holder(conf) or conf.parent
    here = (start or Path.cwd()).resolve()
    root = _holder(here)
    if root is None:
        raise ConfigError(
            str(here), "", f"not inside a taxonomist project: no {PROJECT_FILE} here or in "
            "any folder above",
            f"run it in the project (or a folder inside it), or pass --config-dir "
            f"PROJECT/conf / set {CONFIG_DIR_ENV}",
        )
    return root


def _holder(folder: Path) -> Path | None:
    """The nearest of ``folder`` and its parents that holds ``conf/config.yaml``."""
    return next((p for p in (folder, *folder.parents) if (p / PROJECT_FILE).is_file()), None)
