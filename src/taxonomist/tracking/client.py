"""Clients, and the MLflow helpers shared by the stages that log runs and register versions."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import mlflow
from filelock import FileLock
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_MODEL_VERSIONS
from tenacity import retry, retry_if_exception, stop_after_delay, wait_random_exponential

from taxonomist.config import MlflowConfig, Paths, resolve_tracking_uri

# The client the tracking functions take; higher layers name it by this, not by MLflow's.
Client = MlflowClient


def client_for(cfg: MlflowConfig, paths: Paths) -> Client:
    """A client for the project's tracking URI (config, else ``$MLFLOW_TRACKING_URI``)."""
    return client_at(resolve_tracking_uri(cfg.tracking_uri, paths))


def client_at(tracking_uri: str) -> Client:
    """A client for the tracking server or store at ``tracking_uri``."""
    open_store(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri)


@contextmanager
def tracking_at(uri: str) -> Iterator[None]:
    """MLflow's global tracking URI for the block only, for the fluent calls that read it
    (``log_model``, loading a ``models:/`` URI). ``mlflow.set_tracking_uri`` also exports
    $MLFLOW_TRACKING_URI, which every later subprocess (a ``dvc repro``) would inherit and
    register into this store: both are put back as they were."""
    exported = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(exported)  # None unsets the variable again


# sqlite lets one writer in at a time and MLflow waits 20 s for it (busy_timeout); a
# writer held up longer (a long commit on a slow disk, many parallel node jobs), or a
# reader turning writer (refused at once), gets "database is locked". Such a call is
# safe to repeat (its transaction was rolled back), so repeat it, for a bounded time.
LOCKED_RETRY_S = 300.0


def _sqlite_locked(err: BaseException) -> bool:
    return "database is locked" in str(err)


retry_when_locked = retry(
    retry=retry_if_exception(_sqlite_locked),
    stop=stop_after_delay(LOCKED_RETRY_S),
    wait=wait_random_exponential(multiplier=0.05, max=2.0),
    reraise=True,
)


@functools.cache  # once per process and store: MLflow keeps the opened store too
def open_store(tracking_uri: str) -> None:
    """Open a local sqlite store (creating it: MLflow's migrations) under a file lock.

    Two processes creating one new sqlite store at once both run the migrations and one
    fails ("duplicate column name"); the lock makes the second wait and find it done.
    A server needs nothing.
    """
    if not tracking_uri.startswith("sqlite:"):
        return
    # sqlite:///rel.db and sqlite:////abs.db: the path after the third slash
    database = Path(urlparse(tracking_uri).path.removeprefix("/"))
    database.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{database}.lock"):
        client = MlflowClient(tracking_uri=tracking_uri)
        client.search_experiments(max_results=1)  # the tracking tables
        client.search_registered_models(max_results=1)  # and the registry's


def artifact_location(cfg: MlflowConfig, paths: Paths, tracking_uri: str) -> str | None:
    """Local stores keep artifacts under the project; a server decides for itself."""
    if tracking_uri.startswith(("sqlite:", "file:")) or "://" not in tracking_uri:
        return (paths.root / cfg.artifact_root).resolve().as_uri()
    return None


@retry_when_locked
def register_version(
    client: MlflowClient, name: str, source: str, run_id: str, tags: dict[str, str],
    model_id: str | None = None,
) -> str:
    """Register ``source`` (an artifact URI of ``run_id``) as a new version of ``name``.

    The client's calls print nothing, where ``mlflow.register_model`` (and
    ``log_model(registered_model_name=...)``) prints "Successfully registered model ...".

    Args:
        model_id: the logged model ``source`` is (``models:/<model_id>``), which then
            lists the version, as ``mlflow.register_model`` links them.
    """
    try:
        client.create_registered_model(name)
    except MlflowException as err:
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    version = client.create_model_version(name, source=source, run_id=run_id, tags=tags,
                                          model_id=model_id)
    if model_id is not None:
        _link_logged_model(client, model_id, name, version.version)
    return str(version.version)


def _link_logged_model(
    client: MlflowClient, model_id: str, name: str, version: int | str
) -> None:
    """Add the version to the logged model's list of versions (the tag MLflow's UI reads)."""
    linked = client.get_logged_model(model_id).tags.get(MLFLOW_MODEL_VERSIONS)
    versions = [*json.loads(linked or "[]"), {"name": name, "version": version}]
    client.set_logged_model_tags(model_id, {MLFLOW_MODEL_VERSIONS: json.dumps(versions)})


def run_artifact_uri(client: MlflowClient, run_id: str, subpath: str) -> str:
    return f"{client.get_run(run_id).info.artifact_uri.rstrip('/')}/{subpath}"


def log_folder(client: MlflowClient, run_id: str, folder: Path, artifact_path: str) -> None:
    client.log_artifacts(run_id, str(folder), artifact_path=artifact_path)
