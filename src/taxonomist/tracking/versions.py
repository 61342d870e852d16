"""Registered versions: load one as it is served, read and write its tags, attach a card.

The promote, report and history code call these rather than MLflow, so that MLflow is
spoken to from this package only.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException


def load_served_model(client: MlflowClient, name: str, version: str) -> Any:
    """The Python model of ``name`` v``version``, loaded exactly as serving loads it.

    Returns:
        The registered pyfunc's own object (for the stack: a ``StackModel``).
    """
    mlflow.set_tracking_uri(client.tracking_uri)  # models:/ URIs resolve against it
    return mlflow.pyfunc.load_model(f"models:/{name}/{version}").unwrap_python_model()


def set_version_tags(client: MlflowClient, name: str, version: str, tags: dict[str, str]) -> None:
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)


def version_tag(client: MlflowClient, name: str, version: str, key: str) -> str | None:
    """The tag ``key`` of ``name`` v``version``; None if the tag or the version is gone."""
    try:
        return client.get_model_version(name, version).tags.get(key)
    except MlflowException:
        return None


def attach_files(client: MlflowClient, run_id: str, files: Iterable[Path], folder: str) -> None:
    """Log each file among ``run_id``'s artifacts, under ``folder``."""
    for file in files:
        client.log_artifact(run_id, str(file), artifact_path=folder)


def describe_version(client: MlflowClient, name: str, version: str, description: str) -> None:
    """Replace the description the registry page shows for ``name`` v``version``."""
    client.update_model_version(name, str(version), description=description)
