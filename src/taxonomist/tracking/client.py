"""Clients, and the MLflow helpers shared by the stages that log runs and register versions."""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from taxonomist.config import MlflowConfig, Paths, resolve_tracking_uri

# The client the tracking functions take; higher layers name it by this, not by MLflow's.
Client = MlflowClient


def client_for(cfg: MlflowConfig, paths: Paths) -> Client:
    """A client for the project's tracking URI (config, else ``$MLFLOW_TRACKING_URI``)."""
    return client_at(resolve_tracking_uri(cfg.tracking_uri, paths))


def client_at(tracking_uri: str) -> Client:
    """A client for the tracking server or store at ``tracking_uri``."""
    return MlflowClient(tracking_uri=tracking_uri)


def artifact_location(cfg: MlflowConfig, paths: Paths, tracking_uri: str) -> str | None:
    """Local stores keep artifacts under the project; a server decides for itself."""
    if tracking_uri.startswith(("sqlite:", "file:")) or "://" not in tracking_uri:
        return (paths.root / cfg.artifact_root).resolve().as_uri()
    return None


def register_version(
    client: MlflowClient, name: str, source: str, run_id: str, tags: dict[str, str]
) -> str:
    """Register ``source`` (an artifact URI of ``run_id``) as a new version of ``name``."""
    try:
        client.create_registered_model(name)
    except MlflowException as err:
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    version = client.create_model_version(name, source=source, run_id=run_id, tags=tags)
    return str(version.version)


def run_artifact_uri(client: MlflowClient, run_id: str, subpath: str) -> str:
    return f"{client.get_run(run_id).info.artifact_uri.rstrip('/')}/{subpath}"


def log_folder(client: MlflowClient, run_id: str, folder: Path, artifact_path: str) -> None:
    client.log_artifacts(run_id, str(folder), artifact_path=artifact_path)
