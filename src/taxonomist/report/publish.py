"""Put the model card where people browsing MLflow will find it."""

from __future__ import annotations

from mlflow import MlflowClient

from taxonomist.report.card import ModelCard

ARTIFACT_FOLDER = "model_card"
MAX_DESCRIPTION = 4000  # well inside every MLflow backend's column size


def log_card_to_mlflow(
    card: ModelCard, tracking_uri: str, run_id: str, model_name: str, version: str
) -> None:
    """Attach the card to the stack's run and describe the registered version with it.

    The HTML lands as ``model_card/model_card.html`` among the run's artifacts (and the
    PDF as ``model_card/model_card.pdf`` when one was made), and the version's
    description becomes the card's one-line summary, so the registry page says what was
    decided without opening anything.

    Args:
        card: what :func:`~taxonomist.report.write_model_card` returned.
        tracking_uri: the MLflow tracking URI the stack was registered under.
        run_id: the run that logged the stack (``challenger.run_id`` in promotion.json).
        model_name: the registered model, e.g. ``"digits.stack"``.
        version: the version the card describes.
    """
    client = MlflowClient(tracking_uri=tracking_uri)
    client.log_artifact(run_id, str(card.path), artifact_path=ARTIFACT_FOLDER)
    if card.pdf_path is not None and card.pdf_path.is_file():
        client.log_artifact(run_id, str(card.pdf_path), artifact_path=ARTIFACT_FOLDER)
    client.update_model_version(
        model_name, str(version), description=card.summary[:MAX_DESCRIPTION]
    )
