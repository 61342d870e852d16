"""Where every stage reads and writes, relative to the project root."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


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

    def classifier_source(self, node: str) -> str:
        """The file to name in a node's config errors: its own YAML, else the defaults."""
        own = self.conf / "classifiers" / f"{node}.yaml"
        return f"conf/classifiers/{own.name if own.exists() else '_default.yaml'}"

    @property
    def params(self) -> Path:
        return self.root / "params.yaml"

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

    def cache_images(self, split: str) -> Path:
        return self.cache / f"{split}.npy"

    def cache_index(self, split: str) -> Path:
        return self.cache / f"{split}.parquet"


def resolve_tracking_uri(tracking_uri: str | None, paths: Paths) -> str:
    """The MLflow tracking URI: the config's, else $MLFLOW_TRACKING_URI, else local sqlite."""
    return (
        tracking_uri
        or os.environ.get("MLFLOW_TRACKING_URI")
        or f"sqlite:///{(paths.mlflow_dir / 'mlflow.db').resolve()}"
    )
