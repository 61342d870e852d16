"""Registered versions: load one as it is served, read and write its tags, attach a card,
and word what the MLflow UI shows of them.

The promote, report and history code call these rather than MLflow, so that MLflow is
spoken to from this package only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from taxonomist.contracts.promotion import Outcome
from taxonomist.tracking.client import tracking_at
from taxonomist.tracking.names import RUN_NAME_TAG, UI_MODEL_TRAINING, in_stack_tag


def load_served_model(client: MlflowClient, name: str, version: str) -> Any:
    """The Python model of ``name`` v``version``, loaded exactly as serving loads it.

    Returns:
        The registered pyfunc's own object (for the stack: a ``StackModel``).
    """
    with tracking_at(client.tracking_uri):  # models:/ URIs resolve against it
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


def version_description(decision: Outcome | str, summary: str, card_link: str | None) -> str:
    """A stack version's description (Markdown, as the registry page renders it).

    The decision comes first, then a link that opens the model card in the MLflow UI,
    then the card's one-line summary of the numbers behind it.

    Example:
        >>> version_description("promote", "digits.stack v3 promoted to live: ...", "#/x")
        '**Promoted to live** · [model card](#/x)\\n\\ndigits.stack v3 promoted to live: ...'
    """
    words = Outcome(decision).words.capitalize()
    link = f" · [model card]({card_link})" if card_link else ""
    return f"**{words}**{link}\n\n{summary}"


def card_link(client: MlflowClient, run_id: str, artifact_path: str) -> str:
    """A link, relative to the MLflow UI, that opens ``artifact_path`` of ``run_id`` in its
    artifact viewer, in the model-training view (HTML renders there as a page)."""
    experiment = client.get_run(run_id).info.experiment_id
    return f"#/experiments/{experiment}/runs/{run_id}/artifacts/{artifact_path}?{UI_MODEL_TRAINING}"


def name_run(client: MlflowClient, run_id: str, name: str) -> None:
    """Rename a run, e.g. to ``"stack v3"`` once its version is known."""
    client.set_tag(run_id, RUN_NAME_TAG, name)


def tag_node_versions(
    client: MlflowClient, node_runs: Mapping[str, str], stack: str, version: str
) -> None:
    """Tag the node versions a stack version was built from with that stack version.

    Args:
        client: where the node models are registered.
        node_runs: each node's registered model, e.g. ``"digits.round"``, and the run
            that trained the version in the stack.
        stack: the stack's registered model, e.g. ``"digits.stack"``.
        version: the stack version built from them.
    """
    for model, run_id in node_runs.items():
        for found in client.search_model_versions(f"name = '{model}' and run_id = '{run_id}'"):
            client.set_model_version_tag(
                model, str(found.version), in_stack_tag(version), f"{stack} v{version}"
            )
